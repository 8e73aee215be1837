// The port e2e suites' helpers now live in test/helpers/relay.ts (shared with the port benches).
export { arpRequest, collect, collectFlagged, relay, UDP_PY } from '../helpers/relay.js';
