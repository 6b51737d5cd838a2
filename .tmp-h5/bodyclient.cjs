const net = require('node:net');
const [port, N, SIZE] = process.argv.slice(2).map(Number);
const socks = [];
for (let i = 0; i < N; i++) { const s = net.connect(port, '127.0.0.1', () => { s.write(`POST / HTTP/1.1\r\nHost: hello.localhost\r\nContent-Length: ${SIZE}\r\n\r\n`); s.write(Buffer.alloc(SIZE, 120)); }); s.on('error', () => {}); socks.push(s); }
setTimeout(() => { process.send({ unsent: socks.reduce((a, s) => a + s.writableLength, 0) / N }); }, 1500);
process.on('message', () => process.exit(0));
