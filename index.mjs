// ESM entry: the same class as the CommonJS entry, so both share one class registry.
import IPOS from './index.js'

export { IPOS }
export default IPOS
