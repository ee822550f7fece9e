// Run with `npm run example`. Spawns example/sub-process.js and shares three fields with it.
const path = require('path')
const child_process = require('child_process')
const IPOS = require('..')

async function main() {
  const ipos = IPOS.new()
  ipos.create('exampleArray', [])
  ipos.exampleArray.push('hello')

  // The 'ipc' entry (the 4th stdio entry) is what ipos talks over.
  const sub = child_process.spawn(process.execPath, [path.join(__dirname, 'sub-process.js')], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  })
  await ipos.addProcess(sub)

  ipos.create('exampleObject', {})
  ipos.exampleObject.from = 'the other side'
  ipos.create('users', new Map([['ada', { name: 'Ada', langs: ['en'] }]]))
  ipos.users.get('ada').langs.push('fr')

  // The child answers by changing shared state; wait for its change to arrive here.
  await new Promise((resolve) => ipos.on('change', (ev) => { if (ev.key === 'reply' && !ev.local) resolve() }))
  console.log('main sees:', ipos.reply)
  ipos.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
