// A long-running process that owns some state and lets other processes attach to it through a
// local socket: `node example/socket/server.js [socket path]`. Stop it with Ctrl-C; close()
// removes the socket file. Processes started on their own (a CLI, another service) join with
// `IPOS.new({ connect: path })`, see client.js.
const os = require('os')
const path = require('path')
const IPOS = require('../..')

const SOCKET = process.argv[2] || path.join(os.tmpdir(), 'ipos-example.sock')

async function main() {
  const ipos = IPOS.new()
  ipos.create('stats', { visits: 0, lastVisitor: null })
  ipos.on('change', (ev) => {
    if (!ev.local && ev.key === 'stats' && ev.path[0] === 'visits') console.log(`server: visits is now ${ipos.stats.visits}`)
  })
  // With a token, only processes that present it may join (ERR_IPOS_AUTH for the others).
  await ipos.listen(SOCKET, { token: process.env.IPOS_TOKEN })
  console.log('server: listening')
  const stop = () => {
    ipos.close()
    console.log('server: closed')
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
