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

/** Turns a core error ("ERR_IPOS_X: message") into an Error with `code`. */
function fromCore(e, extra) {
  const msg = String((e && e.message) || e)
  const m = /^(ERR_IPOS_[A-Z_]+): ([\s\S]*)$/.exec(msg)
  return m ? iposError(Error, m[1], m[2], extra) : iposError(Error, 'ERR_IPOS_INTERNAL', msg, extra)
}

module.exports = { iposError, fromCore }
