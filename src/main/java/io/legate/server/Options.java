package io.legate.server;

import java.nio.file.Path;

/** The command-line options, as Envoy's. */
public record Options(
    Path configPath,
    String configYaml,
    String mode,
    int concurrency,
    String logLevel,
    String serviceCluster,
    String serviceNode,
    int drainTimeSeconds) {

  /** Options for running a config in tests and embedding: serve mode, the given concurrency. */
  public static Options ofYaml(String yaml, int concurrency) {
    return new Options(null, yaml, "serve", concurrency, "warning", "", "", 1);
  }
}
