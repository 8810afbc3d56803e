import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics served on /metrics. One registry per app so tests do not collide. */
export function createMetrics() {
  const registry = new Registry();
  return {
    registry,
    commands: new Counter({
      name: 'runbook_bot_commands_total',
      help: 'Slash commands received, by command, subcommand and outcome',
      labelNames: ['command', 'subcommand', 'outcome'] as const,
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: 'runbook_bot_ack_latency_seconds',
      help: 'Time from receiving a slash command to acknowledging it, by command',
      labelNames: ['command'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'runbook_bot_job_duration_seconds',
      help: 'Job processing time, by queue',
      labelNames: ['queue'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [registry],
    }),
    targetConnections: new Gauge({
      name: 'runbook_bot_target_connections',
      help: 'Target connections of this process: open (in_use, idle ones included) and runs waiting for a slot of TARGET_CONNECTION_BUDGET (waiting)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'runbook_bot_queue_depth',
      help: 'Jobs waiting or delayed, by queue (read on scrape)',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    // Read on scrape: where a process's memory is (V8's heap, or native memory outside it:
    // Buffers, WebAssembly, the allocator) tells a leak from a heap that is merely large.
    memory: new Gauge({
      name: 'runbook_bot_process_memory_bytes',
      help: "This process's memory (process.memoryUsage), by kind: rss, heapTotal, heapUsed, external, arrayBuffers",
      labelNames: ['kind'] as const,
      registers: [registry],
      collect() {
        for (const [kind, bytes] of Object.entries(process.memoryUsage())) this.set({ kind }, bytes);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
