// The bundled example app for `tide up`: a tiny HTTP service with a configurable delay. Plain node:http, no dependencies.
//
//   PORT        port to listen on (tide up sets it; default 8080)
//   DELAY_MS    how long each request takes before answering (default 0); `?delay=ms` overrides it per request
//   STARTUP_MS  how long the process "boots" before it listens (default 0), to make cold starts visible
//
// GET /            -> "hello from <pid> after <n>ms"
// GET /?delay=250  -> the same, after 250 ms
// GET /crash       -> the process exits with code 1 (to watch tide up restart a replica)
import http from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const defaultDelayMs = Number(process.env.DELAY_MS ?? 0);
const startupMs = Number(process.env.STARTUP_MS ?? 0);
const MAX_DELAY_MS = 60_000;

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/crash') {
    res.end('crashing\n', () => process.exit(1));
    return;
  }
  const asked = Number(url.searchParams.get('delay') ?? defaultDelayMs);
  const delayMs = Number.isFinite(asked) ? Math.min(Math.max(asked, 0), MAX_DELAY_MS) : 0;
  const timer = setTimeout(() => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello from ${process.pid} after ${delayMs}ms\n`);
  }, delayMs);
  req.on('close', () => {
    if (!res.writableEnded) clearTimeout(timer);
  });
});

// Finish what is in flight, then exit; tide up (like Kubernetes) sends SIGKILL if this takes too long.
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
process.on('SIGINT', () => process.exit(0));

setTimeout(() => {
  server.listen(port, '127.0.0.1', () => console.log(`hello: listening on 127.0.0.1:${port} (pid ${process.pid})`));
}, startupMs);
