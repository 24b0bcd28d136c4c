// Starting the real gripway binary on loopback ports for the Node tests, and stopping it
// (the counterpart of tests/python/gripway_proc.py).

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A port nothing listens on now (the kernel's choice of a free one). */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts connections on `port`; rejects after `timeoutMs`. */
export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); resolve(true); });
      sock.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts gripway with `routes` and its publish API on a free port; `extraConf` is appended to
 * its pushpin.conf. Returns { port, publishPort, controlUri, log, stop }.
 */
export async function startGripway(routes, extraConf = '') {
  const port = await freePort();
  const publishPort = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'gripway-node-'));
  const conf = path.join(dir, 'pushpin.conf');
  writeFileSync(
    conf,
    `[handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port=${publishPort}\n${extraConf}`,
  );
  const binary = process.env.GRIPWAY_BIN ?? path.join(ROOT, 'target', 'debug', 'gripway');
  const args = ['--config', conf, '--port', String(port)];
  for (const route of routes) args.push('--route', route);
  const log = path.join(dir, 'stderr.log');
  const logFd = openSync(log, 'w');
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', logFd] });
  closeSync(logFd);
  const exited = new Promise((resolve) => child.once('exit', resolve));

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    await Promise.race([
      Promise.all([waitForPort(port), waitForPort(publishPort)]),
      exited.then((code) => { throw new Error(`gripway exited with ${code}`); }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, publishPort, controlUri: `http://127.0.0.1:${publishPort}`, log, stop };
}
