'use strict'
// Every error ipos throws or emits carries a stable `code` (listed in the README). Messages name
// the key path and say how to fix the problem.

/** Creates an error of class `Ctor` with a stable `code` and optional extra fields. */
function iposError(Ctor, code, message, extra) {
  const err = new Ctor(message)
  err.code = code
  if (extra) Object.assign(err, extra)
  return err
}

/** An error thrown by the core: it already carries its `code`; anything else is internal. */
function fromCore(e, extra) {
  if (!(e instanceof Error)) return iposError(Error, 'ERR_IPOS_INTERNAL', String(e), extra)
  if (typeof e.code !== 'string' || !e.code.startsWith('ERR_IPOS_')) e.code = 'ERR_IPOS_INTERNAL'
  if (extra) Object.assign(e, extra)
  return e
}

module.exports = { iposError, fromCore }
