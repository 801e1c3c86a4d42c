package io.legate.upstream;

import io.legate.stats.Counter;
import java.util.random.RandomGenerator;

/**
 * Envoy's ROUND_ROBIN: plain rotation when all weights are equal, otherwise smooth weighted round
 * robin with an EDF scheduler. Each instance starts at a random point (Envoy's seed) so that the
 * workers do not all begin with the same host.
 */
final class RoundRobinLoadBalancer extends PriorityLoadBalancer {
  private final long seed;

  RoundRobinLoadBalancer(
      PrioritySet prioritySet, RandomGenerator random, int panicThreshold, Counter healthyPanic) {
    super(prioritySet, random, panicThreshold, healthyPanic);
    this.seed = random.nextLong();
  }

  @Override
  Host pick(Source source, long hash) {
    if (source.hosts.size() > 1 && inSlowStart(source)) {
      if (source.edf == null) {
        source.edf = EdfScheduler.createWithPicks(source.hosts, this::weight, seed);
      }
      return source.edf.pickAndAdd(this::weight);
    }
    if (source.weightsEqual || source.hosts.size() == 1) {
      if (!source.started) {
        source.rrIndex = seed;
        source.started = true;
      }
      return source.hosts.get(index(source.rrIndex++, source.hosts.size()));
    }
    if (source.edf == null) {
      source.edf = EdfScheduler.createWithPicks(source.hosts, this::weight, seed);
    }
    return source.edf.pickAndAdd(this::weight);
  }

  private double weight(Host h) {
    return applySlowStart(h, h.weight());
  }
}
