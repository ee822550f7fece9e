// `npm run example:redis`: two processes, started independently of each other, share fields
// through Redis. Uses REDIS_URL when set; otherwise starts a local redis-server for the run.
const path = require('path')
const { spawn } = require('child_process')

function run(url, me, other) {
  const p = spawn(process.execPath, [path.join(__dirname, 'greeter.js'), url, me, other], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  p.stdout.on('data', (d) => (out += d))
  return new Promise((resolve, reject) => p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${me} exited with ${code}`)))))
}

async function main() {
  let server = null
  let url = process.env.REDIS_URL
  if (!url) {
    server = await require('../../__test__/redis-server').startRedis()
    url = server.url
  }
  try {
    const outs = await Promise.all([run(url, 'alice', 'bob'), run(url, 'bob', 'alice')])
    for (const o of outs) console.log(o)
  } finally {
    if (server) await server.stop()
  }
}

main().catch((e) => {
  console.error(e.message)
  process.exit(1)
})
