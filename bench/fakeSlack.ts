/**
 * Stand-in for slack.com/api in a process of its own, for bench/ack.ts: it records when
 * each channel's chat.postMessage arrives (wall-clock milliseconds, comparable across
 * processes). Apart from the load generator so that answering the worker's posts never
 * delays the load generator's own requests and their timing.
 *
 * Protocol over IPC: it sends { port } once listening; asked 'count', it answers
 * { count } (channels with a post); asked 'posts', it answers { posts: [channel, times][] }.
 */
import { createServer } from 'node:http';

const now = () => performance.timeOrigin + performance.now();
const posts = new Map<string, number[]>();

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    const channel = new URLSearchParams(body).get('channel') ?? '?';
    if (req.url?.endsWith('/chat.postMessage')) posts.set(channel, [...(posts.get(channel) ?? []), now()]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, ts: `${Date.now() / 1000}` }));
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('message', (message) => {
  if (message === 'count') process.send?.({ count: posts.size });
  if (message === 'posts') process.send?.({ posts: [...posts] });
});
process.on('disconnect', () => process.exit(0));
