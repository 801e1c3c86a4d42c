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
    int drainTimeSeconds,
    int restartEpoch,
    int baseId,
    int parentShutdownTimeSeconds,
    String socketPath) {

  /** The default prefix of the hot-restart domain sockets (Envoy's {@code --socket-path}). */
  public static final String DEFAULT_SOCKET_PATH =
      java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "legate_domain_socket").toString();

  /** Options without hot restart (epoch 0). */
  public Options(
      Path configPath,
      String configYaml,
      String mode,
      int concurrency,
      String logLevel,
      String serviceCluster,
      String serviceNode,
      int drainTimeSeconds) {
    this(configPath, configYaml, mode, concurrency, logLevel, serviceCluster, serviceNode, drainTimeSeconds, 0, 0, 900, DEFAULT_SOCKET_PATH);
  }

  /** Options for running a config in tests and embedding: serve mode, the given concurrency. */
  public static Options ofYaml(String yaml, int concurrency) {
    return new Options(null, yaml, "serve", concurrency, "warning", "", "", 1);
  }
}
