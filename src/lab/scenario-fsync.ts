import { makeContainerDirs, namedContainers, type ScenarioDefinition, standardPhases } from './scenario.ts';

export const fsyncLoad = {
  /** Messages per second per neighbour, and their size. */
  spoolRate: 2000,
  messageBytes: 4096,
  /** Messages per fsync with the fix. */
  groupCommit: 32,
  /** Transactions per second of the victim, records per transaction. */
  walRate: 200,
  txnRecords: 4,
};

export const fsyncStorm: ScenarioDefinition = {
  name: 'fsync-storm',
  title: 'a neighbour fsyncing every small write on a shared filesystem',
  summary:
    'Neighbours write small messages and fsync() each one (spool_commit_message); a database on the ' +
    'same filesystem commits WAL transactions with fdatasync() (wal_sync). Every fsync forces a ' +
    'journal commit and a device flush the database waits behind. Fix: one fsync per batch.',
  defaults: { containers: 3, durationSeconds: 8, runs: 1, warmupSeconds: 0.5 },
  minContainers: 2,
  containers: (count) => namedContainers('db-1', 'spool', count),
  phases: (count) => standardPhases(count),
  prepare: makeContainerDirs,
  workload(req) {
    if (req.container.role === 'victim')
      return [
        req.bins.binaries['wal-writer'],
        `--dir=${req.containerDir}`,
        `--rate=${fsyncLoad.walRate}`,
        `--txn-records=${fsyncLoad.txnRecords}`,
      ];
    return [
      req.bins.binaries['spool-writer'],
      `--dir=${req.containerDir}`,
      `--rate=${fsyncLoad.spoolRate}`,
      `--message-bytes=${fsyncLoad.messageBytes}`,
      `--sync-every=${req.variant === 'fixed' ? fsyncLoad.groupCommit : 1}`,
    ];
  },
  groundTruth: (containers) => ({
    victim: containers[0].name,
    antagonists: containers.filter((c) => c.role === 'neighbour').map((c) => c.name),
    syscall: 'fsync',
    callSite: 'spool_commit_message',
    callSiteSymbol: 'spool_commit_message',
    kernelResource:
      'the filesystem journal (jbd2 commits, one at a time) and the device cache flush every commit ends with',
    fix: `group commit: one fsync per ${fsyncLoad.groupCommit} messages instead of one per message`,
  }),
};
