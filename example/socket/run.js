// `npm run example:socket`: starts server.js, then two clients one after the other as separate
// programs (no IPC channel between any of them), then stops the server.
const os = require('os')
const path = require('path')
const readline = require('readline')
const { spawn, execFileSync } = require('child_process')

const SOCKET = path.join(os.tmpdir(), `ipos-example-${process.pid}.sock`)
const env = { ...process.env, IPOS_TOKEN: 'example-token' }

async function main() {
  const server = spawn(process.execPath, [path.join(__dirname, 'server.js'), SOCKET], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: server.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error('the server exited')
    console.log(value)
    return value
  }
  await next() // listening
  for (const name of ['alice', 'bob']) {
    process.stdout.write(execFileSync(process.execPath, [path.join(__dirname, 'client.js'), SOCKET, name], { env, encoding: 'utf8' }))
    await next() // the server saw the visit
  }
  server.kill('SIGTERM')
  await next() // closed
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
