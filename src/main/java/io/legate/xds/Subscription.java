package io.legate.xds;

import java.util.Set;

/** A source of one resource type's updates: a file, or a type on a gRPC stream. */
public interface Subscription {
  /** Starts delivering updates to the watcher. */
  void start();

  /** Changes the names asked for (RDS, EDS); ignored by wildcard subscriptions. */
  default void updateResourceNames(Set<String> names) {}

  /** Stops delivering updates. */
  void stop();
}
