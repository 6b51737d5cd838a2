/**
 * Bench child for `npm run bench activator`: opens `n` raw sockets, each sending one GET for hello.localhost, and
 * reports when all are written. With a third argument `hold`, it connects every socket, reports `connected`, writes only
 * when told `go`, keeps the connections alive (as a client of a ready pod would) and counts a request done at its
 * response's first bytes. Argv: PORT N [hold].
 */
import * as net from 'node:net';

const send = (m: Record<string, number>): void => void process.send?.(m);
const port = Number(process.argv[2]);
const n = Number(process.argv[3]);
const hold = process.argv[4] === 'hold';
const socks: net.Socket[] = [];
let written = 0;
let done = 0;
let connected = 0;
const close = hold ? '' : 'Connection: close\r\n';
const write = (s: net.Socket, i: number): void => {
  s.write(`GET /r${i} HTTP/1.1\r\nHost: hello.localhost\r\n${close}\r\n`, () => {
    if (++written === n) send({ written });
  });
};
for (let i = 0; i < n; i++) {
  const s = net.connect(port, '127.0.0.1', () => {
    if (!hold) write(s, i);
    else if (++connected === n) send({ connected });
  });
  let answered = false;
  const finished = (): void => {
    if (answered) return;
    answered = true;
    if (++done === n) send({ done });
  };
  s.on('data', () => {
    if (hold) finished();
  });
  s.on('error', () => undefined);
  s.on('close', finished);
  socks.push(s);
}
process.on('message', (m) => {
  if (m === 'go') socks.forEach(write);
  if (m === 'exit') {
    for (const s of socks) s.destroy();
    process.exit(0);
  }
});
