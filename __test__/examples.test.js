'use strict'
// The cluster, worker_threads and socket examples run as `npm run example:cluster` / `:threads` / `:socket`
// would run them, and print what the primary (main thread) saw come back from its workers.
const { test } = require('node:test')
const assert = require('node:assert')
const path = require('path')
const { execFileSync } = require('child_process')

const EXAMPLES = path.join(__dirname, '..', 'example')
const PKG = require('../package.json')

function example(script) {
  const file = /^node (\S+)$/.exec(PKG.scripts[script])[1]
  return execFileSync(process.execPath, [path.join(EXAMPLES, '..', file)], { encoding: 'utf8', timeout: 30000 })
}

test('npm run example:cluster: two workers take their share of the jobs and the primary sees every result', () => {
  assert.strictEqual(example('example:cluster'), [
    'a.png: resized at quality 80 by worker 1',
    'b.png: resized at quality 80 by worker 2',
    'c.png: resized at quality 80 by worker 1',
    'd.png: resized at quality 80 by worker 2',
    'e.png: resized at quality 80 by worker 1',
    'primary sees 5 results from 2 workers',
    '',
  ].join('\n'))
})

test('npm run example:threads: the worker thread answers the task through shared state', () => {
  assert.strictEqual(example('example:threads'), [
    'main sees primes: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47',
    'main sees task: { primesBelow: 50, done: true }',
    '',
  ].join('\n'))
})

test('npm run example:redis: two independently started processes read each other\'s field through Redis', () => {
  // The example starts its own redis-server when REDIS_URL is not set.
  const env = { ...process.env }
  delete env.REDIS_URL
  const file = /^node (\S+)$/.exec(PKG.scripts['example:redis'])[1]
  assert.strictEqual(execFileSync(process.execPath, [path.join(EXAMPLES, '..', file)], { encoding: 'utf8', timeout: 30000, env }), [
    'alice read: hello from bob',
    'bob read: hello from alice',
    '',
  ].join('\n'))
})

test('npm run example:socket: clients started on their own attach to the server by its socket path', () => {
  assert.strictEqual(example('example:socket'), [
    'server: listening',
    'client alice: visits was 0, now 1',
    'server: visits is now 1',
    'client bob: visits was 1, now 2',
    'server: visits is now 2',
    'server: closed',
    '',
  ].join('\n'))
})
