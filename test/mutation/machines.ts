/**
 * The machines under mutation: machine id (its config's `id`) → module → export → the test
 * files that must notice when part of its chart goes. Add a row per machine; a row whose module
 * does not exist yet is skipped with a note, and so is a listed test file that does not exist.
 *
 * Test files are those that build the machine, directly (`machines/<name>.js`) or through the
 * src/ module that runs it (src/lane, src/connection, src/node). The integration suites that
 * also reach them over real sockets (test/integration/lane-quic, cli) are left out: a minute or
 * more per variant, where these take seconds.
 */
export interface MachineUnderTest {
  /** The `id` of the machine's config: what the setup hook matches. */
  id: string;
  /** Module path from the repository root. */
  module: string;
  /** Export holding the machine. */
  exportName: string;
  /** Test files (from the repository root) run against each variant. */
  tests: string[];
}

export const MACHINES: MachineUnderTest[] = [
  {
    id: 'laneSend',
    module: 'machines/laneSend.ts',
    exportName: 'laneSendMachine',
    tests: ['test/unit/laneMachines.test.ts', 'test/model/lane.test.ts'],
  },
  {
    id: 'laneReceive',
    module: 'machines/laneReceive.ts',
    exportName: 'laneReceiveMachine',
    tests: ['test/unit/laneMachines.test.ts', 'test/model/lane.test.ts'],
  },
  {
    id: 'node',
    module: 'machines/node.ts',
    exportName: 'supervisorMachine',
    tests: ['test/unit/supervisor.test.ts', 'test/scenarios/node.test.ts'],
  },
  {
    id: 'peer',
    module: 'machines/peer.ts',
    exportName: 'peerMachine',
    tests: ['test/unit/peer.test.ts', 'test/scenarios/node.test.ts'],
  },
];
