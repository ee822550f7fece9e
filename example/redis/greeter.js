// One of two independently started processes sharing fields through Redis (no IPC between
// them, possibly on different machines): each writes a greeting, then waits for the other's.
const IPOS = require('../..')

async function main() {
  const [url, me, other] = process.argv.slice(2)
  const ipos = await IPOS.new({ redis: url, name: 'example' })
  ipos.create(me, `hello from ${me}`)
  await ipos.flush()
  while (!ipos.has(other)) await new Promise((resolve) => ipos.once('change', resolve))
  console.log(`${me} read: ${ipos[other]}`)
  ipos.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
