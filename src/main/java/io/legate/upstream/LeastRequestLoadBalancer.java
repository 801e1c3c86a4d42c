package io.legate.upstream;

import io.legate.stats.Counter;
import java.util.random.RandomGenerator;

/**
 * Envoy's LEAST_REQUEST: with equal weights, the best of {@code choice_count} random hosts by
 * {@link Host#activeRequests}; with different weights, an EDF schedule whose weights are
 * {@code weight / (active + 1) ^ active_request_bias}, read again each time a host is re-added.
 */
final class LeastRequestLoadBalancer extends PriorityLoadBalancer {
  private final int choiceCount;
  private final double activeRequestBias;
  private final long seed;

  LeastRequestLoadBalancer(
      PrioritySet prioritySet,
      RandomGenerator random,
      int panicThreshold,
      Counter healthyPanic,
      int choiceCount,
      double activeRequestBias) {
    super(prioritySet, random, panicThreshold, healthyPanic);
    this.choiceCount = choiceCount;
    this.activeRequestBias = activeRequestBias;
    this.seed = random.nextLong();
  }

  double hostWeight(Host host) {
    double weight = host.weight();
    long active = host.activeRequests.get() + 1L;
    if (activeRequestBias == 1.0) {
      return applySlowStart(host, weight / active);
    } else if (activeRequestBias != 0.0) {
      return applySlowStart(host, weight / Math.pow(active, activeRequestBias));
    }
    return applySlowStart(host, weight);
  }

  @Override
  Host pick(Source source, long hash) {
    if ((source.weightsEqual && !inSlowStart(source)) || source.hosts.size() == 1) {
      Host candidate = null;
      for (int i = 0; i < choiceCount; i++) {
        Host sampled = source.hosts.get(index(random.nextLong(), source.hosts.size()));
        if (candidate == null
            || sampled.activeRequests.get() < candidate.activeRequests.get()) {
          candidate = sampled;
        }
      }
      return candidate;
    }
    if (source.edf == null) {
      source.edf = EdfScheduler.createWithPicks(source.hosts, this::hostWeight, seed);
    }
    return source.edf.pickAndAdd(this::hostWeight);
  }
}
