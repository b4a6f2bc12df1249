// Shared by the client library tests: where to connect (from the
// environment), the known-failures list, the devnet control API, and the
// hand-written event contract (the project has no Solidity compiler).
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ethers } from 'ethers';

// env reads a variable, failing when a required one is missing.
function env(name, required) {
  const v = process.env[name] ?? '';
  if (required && v === '') {
    throw new Error(`${name} is not set (see clients/README.md for the variables the tests read)`);
  }
  return v;
}

/** What the tests run against; see clients/README.md. */
export const target = {
  // The endpoint under test: the gateway (http://host/devnet) or a node.
  http: env('RPC_HTTP_URL', true),
  // Its WebSocket endpoint; the WebSocket tests are skipped without it.
  ws: env('RPC_WS_URL', false),
  // A devnet node reached directly: sends the transactions the tests
  // observe through the target, so that a fault of the target cannot hide
  // what is being tested.
  node: env('DEVNET_NODE_URL', false) || env('RPC_HTTP_URL', true),
  // The devnet control API (docs/devnet.md); the failover test is skipped
  // without it.
  control: env('DEVNET_CONTROL_URL', false),
  // Prefunded private keys, comma-separated (KEY says which test sends
  // from which).
  keys: env('DEVNET_KEYS', true).split(',').filter(Boolean),
  // Nodes to take down one after another while events are emitted
  // (comma-separated names): the providers behind the target.
  failover: env('CLIENTS_FAILOVER', false).split(',').filter(Boolean),
  // The name known-failures.json lists this target's failures under.
  name: env('CLIENTS_TARGET', false) || 'node',
};

// Which of DEVNET_KEYS each test sends from: each its own, so that tests
// never share a nonce.
export const KEY = { wait: 0, waitWs: 1, viemWait: 2, events: 3, failover: 4 };

/** key returns the prefunded private key at index i. */
export function key(i) {
  if (i >= target.keys.length) {
    throw new Error(`DEVNET_KEYS has ${target.keys.length} keys, the tests need at least ${i + 1}`);
  }
  return target.keys[i];
}

const knownFile = new URL('../known-failures.json', import.meta.url);
const known = JSON.parse(readFileSync(knownFile, 'utf8'));

/**
 * check declares a test that known-failures.json may list for this target
 * (key "target/test name"). A listed test must fail: its failure is
 * reported as expected, and its passing fails the run (remove it from the
 * list). An entry {"reason", "intermittent": true} is for a test the target
 * fails only sometimes (a race): either outcome passes, and is reported.
 * Unlisted tests run as usual.
 */
export function check(name, fn, opts = {}) {
  const entry = known[`${target.name}/${name}`];
  const reason = typeof entry === 'string' ? entry : entry?.reason;
  const intermittent = typeof entry === 'object' && entry?.intermittent === true;
  test(name, { timeout: 120_000, ...opts }, async (t) => {
    if (entry === undefined) {
      return fn(t);
    }
    try {
      await fn(t);
    } catch (err) {
      t.diagnostic(`known failure on ${target.name} (${reason}): ${describe(err)}`);
      return;
    }
    if (intermittent) {
      t.diagnostic(`known intermittent failure on ${target.name} did not happen this time (${reason})`);
      return;
    }
    throw new Error(`${target.name}/${name} is listed in known-failures.json (${reason}) but passed: remove it from the list`);
  });
}

/**
 * describe says in one line why a test failed: the JSON-RPC error's code
 * and message where the library kept them (ethers: err.error, viem:
 * err.code and err.details), else the message.
 */
export function describe(err) {
  if (err?.error?.message !== undefined) {
    return `${err.payload?.method ?? ''} answered ${err.error.code}: ${err.error.message}`;
  }
  if (err?.details !== undefined && typeof err.code === 'number') {
    return `${err.name} ${err.code}: ${err.details}`;
  }
  return String(err?.shortMessage ?? err?.message ?? err).split('\n').filter(Boolean).join(' ');
}

/** within rejects with what after ms, unless p settles first. */
export async function within(ms, what, p) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * until polls cond (sync or async) every 50 ms until it is truthy, failing
 * after ms with what, or at once if failed() returns an error.
 */
export async function until(ms, what, cond, failed = () => undefined) {
  const deadline = Date.now() + ms;
  for (;;) {
    const err = failed();
    if (err) throw err;
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * httpProvider is ethers' provider for url over HTTP, polling every 100 ms
 * (options override).
 */
export function httpProvider(url, options = {}) {
  return new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100, ...options });
}

/** Fault staging through the devnet control API (docs/devnet.md). */
export async function setFault(target_, kind) {
  const res = await fetch(`${target.control}/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ target: target_, kind }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`control API: ${kind} on ${target_}: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** clearFault clears one fault set by setFault. */
export async function clearFault(id) {
  const res = await fetch(`${target.control}/faults/${id}`, { method: 'DELETE' });
  if (!res.ok) throw new Error(`control API: clear ${id}: ${res.status} ${await res.text()}`);
}

/** The event the contract emits: Ping(uint256 n), n being the calldata's first word. */
export const PING_ABI = ['event Ping(uint256 n)'];

/**
 * pingInitCode deploys a contract that, on any call, emits
 * LOG1(keccak256("Ping(uint256)")) with the calldata's first 32 bytes as
 * data, by hand:
 *
 *   runtime: PUSH1 32 PUSH1 0 PUSH1 0 CALLDATACOPY     copy calldata[0:32] to memory[0]
 *            PUSH32 topic PUSH1 32 PUSH1 0 LOG1 STOP   LOG1(memory[0:32], topic)
 *   init:    PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN
 */
export function pingInitCode() {
  const topic = ethers.id('Ping(uint256)').slice(2);
  const runtime = '602060006000377f' + topic + '60206000a100';
  const len = (runtime.length / 2).toString(16).padStart(2, '0');
  return '0x60' + len + '80600b6000396000f3' + runtime;
}
