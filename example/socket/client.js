// Attaches to a running server.js, counts one visit and leaves:
// `node example/socket/client.js [socket path] [name]`. Nothing spawned it: it finds the server
// by the socket path alone.
const os = require('os')
const path = require('path')
const IPOS = require('../..')

const SOCKET = process.argv[2] || path.join(os.tmpdir(), 'ipos-example.sock')
const NAME = process.argv[3] || `pid ${process.pid}`

async function main() {
  // Resolves once the server's state is here; rejects with ERR_IPOS_CONNECT if nothing listens.
  const ipos = await IPOS.new({ connect: SOCKET, token: process.env.IPOS_TOKEN })
  const before = ipos.stats.visits
  ipos.stats.visits++
  ipos.stats.lastVisitor = NAME
  await ipos.flush() // applied by the server (and everyone else attached)
  console.log(`client ${NAME}: visits was ${before}, now ${ipos.stats.visits}`)
  ipos.close()
}

main().catch((e) => {
  console.error(`client: ${e.code}: ${e.message}`)
  process.exit(1)
})
