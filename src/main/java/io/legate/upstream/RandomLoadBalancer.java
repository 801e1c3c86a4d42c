package io.legate.upstream;

import io.legate.stats.Counter;
import java.util.random.RandomGenerator;

/** Envoy's RANDOM: a uniformly random host of the chosen priority (weights are not used). */
final class RandomLoadBalancer extends PriorityLoadBalancer {
  RandomLoadBalancer(
      PrioritySet prioritySet, RandomGenerator random, int panicThreshold, Counter healthyPanic) {
    super(prioritySet, random, panicThreshold, healthyPanic);
  }

  @Override
  Host pick(Source source, long hash) {
    return source.hosts.get(index(random.nextLong(), source.hosts.size()));
  }
}
