// Run with `npm run example:threads`. The main thread hands a task to a worker thread through
// shared state; the thread pushes its answers into a shared array and marks the task done.
const { Worker, isMainThread } = require('worker_threads')
const IPOS = require('..')

async function main() {
  const ipos = IPOS.new()
  ipos.create('task', { primesBelow: 50, done: false })
  ipos.create('primes', [])

  const done = new Promise((resolve) => {
    ipos.on('change', ({ key, path, local }) => { if (!local && key === 'task' && path[0] === 'done') resolve() })
  })
  // The thread runs this same file (isMainThread is false there) and calls `await IPOS.new()`.
  await ipos.addProcess(new Worker(__filename))
  await done

  console.log('main sees primes:', ipos.primes.join(' '))
  console.log('main sees task:', { ...ipos.task })
  ipos.close()
}

async function thread() {
  const ipos = await IPOS.new() // resolves once the main thread's state has arrived
  for (let n = 2; n < ipos.task.primesBelow; n++) {
    if (ipos.primes.every((p) => n % p !== 0)) ipos.primes.push(n)
  }
  ipos.task.done = true
  await ipos.flush() // the main thread has applied everything above
  ipos.close()
}

;(isMainThread ? main : thread)().catch((e) => {
  console.error(e)
  process.exit(1)
})
