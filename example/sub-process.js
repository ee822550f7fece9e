// Started by example/main-process.js.
const IPOS = require('..')

async function main() {
  const ipos = await IPOS.new()
  console.log('sub sees exampleArray:', ipos.exampleArray)
  ipos.on('change', (ev) => {
    if (ev.key === 'users' && ev.kind === 'splice') {
      console.log('sub sees exampleObject:', ipos.exampleObject)
      console.log('sub sees users:', ipos.users)
      ipos.create('reply', `hello from ${process.pid === undefined ? 'sub' : 'the sub-process'}`)
      ipos.flush().then(() => ipos.close())
    }
  })
}

main()
