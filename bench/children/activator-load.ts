/** Bench child for `npm run bench activator`: autocannon in its own process against URL (argv), its result as a message. */
import autocannon from 'autocannon';

autocannon({ url: process.argv[2] ?? '', connections: 32, duration: 3, headers: { host: 'hello.localhost' } }, (err, r) => {
  process.send?.(err ? { error: String(err) } : { rps: r.requests.average, errors: r.errors, non2xx: r.non2xx });
  process.exit(0);
});
