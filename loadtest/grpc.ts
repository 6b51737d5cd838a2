// k6 run loadtest/grpc.ts  (TARGET, HOST: see loadtest/README.md; the service implements loadtest/echo.proto)
import { check } from 'k6';
import grpcModule from 'k6/net/grpc';
import { HOST, TARGET, summaryFor } from './common.ts';
import { grpc } from './scenarios/grpc.ts';
import { k6Options } from './scenarios/types.ts';

export const options = k6Options(grpc);

const client = new grpcModule.Client();
const ADDR = __ENV.GRPC_ADDR ?? `${HOST}:${/:(\d+)$/.exec(TARGET)?.[1] ?? '80'}`;
client.load(['.'], 'echo.proto');

export function run(): void {
  const shape = grpc.request;
  if (shape.type !== 'grpc') throw new Error('grpc scenario expected');
  // gRPC routes on :authority, which k6 takes from the address it dials: GRPC_ADDR, else HOST at TARGET's port
  // (`hello.localhost:8080` resolves to loopback where *.localhost does; otherwise set GRPC_ADDR and route by port).
  client.connect(ADDR, { plaintext: true });
  const res = client.invoke(shape.method, { message: shape.payload });
  check(res, {
    'status OK': (r) => r.status === grpcModule.StatusOK,
    'echo matches': (r) => (r.message as { message?: string } | null)?.message === shape.payload,
  });
  client.close();
}

export const handleSummary = summaryFor(grpc);
