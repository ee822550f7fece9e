// Run with `npm run example:cluster`. The primary shares a job list with two cluster workers;
// each worker takes its share and writes results back into a shared Map the primary reads.
const cluster = require('cluster')
const IPOS = require('..')

const WORKERS = 2

async function primary() {
  const ipos = IPOS.new()
  ipos.create('config', { quality: 80 })
  ipos.create('jobs', ['a.png', 'b.png', 'c.png', 'd.png', 'e.png'])
  ipos.create('results', new Map())

  const allDone = new Promise((resolve) => {
    ipos.on('change', ({ key }) => { if (key === 'results' && ipos.results.size === ipos.jobs.length) resolve() })
  })
  // A worker runs this same file (cluster.isPrimary is false there) and calls `await IPOS.new()`.
  for (let i = 0; i < WORKERS; i++) await ipos.addProcess(cluster.fork())
  await allDone

  for (const job of [...ipos.results.keys()].sort()) console.log(`${job}: ${ipos.results.get(job)}`)
  console.log(`primary sees ${ipos.results.size} results from ${WORKERS} workers`)
  ipos.close()
  cluster.disconnect()
}

async function worker() {
  const ipos = await IPOS.new() // resolves once the primary's state has arrived
  const n = cluster.worker.id // 1, 2, …
  ipos.jobs.forEach((job, i) => {
    if (i % WORKERS === n - 1) ipos.results.set(job, `resized at quality ${ipos.config.quality} by worker ${n}`)
  })
  await ipos.flush() // every process has applied the results
  ipos.close()
}

;(cluster.isPrimary ? primary : worker)().catch((e) => {
  console.error(e)
  process.exit(1)
})
