// The port e2e suites' helpers now live in test/helpers/relay.ts (shared with the port benches).
export { arpRequest, collect, relay } from '../helpers/relay.js';
