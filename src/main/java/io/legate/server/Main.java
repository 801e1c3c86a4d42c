package io.legate.server;

import io.legate.config.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code legate} command: Envoy's flags, Envoy's exit codes. */
@Command(
    name = "legate",
    description = "An L4/L7 proxy that runs Envoy v3 configurations.",
    sortOptions = false,
    usageHelpAutoWidth = true)
public final class Main implements Callable<Integer> {
  @Option(names = {"-c", "--config-path"}, paramLabel = "FILE", description = "Path to the bootstrap config (YAML or JSON).")
  Path configPath;

  @Option(names = "--config-yaml", paramLabel = "YAML", description = "YAML bootstrap merged over the config file.")
  String configYaml;

  @Option(names = "--mode", paramLabel = "serve|validate", description = "serve (default) or validate: check the config and exit.")
  String mode = "serve";

  @Option(names = "--concurrency", paramLabel = "N", description = "Worker threads (default: the number of cores).")
  int concurrency = 0;

  @Option(names = {"-l", "--log-level"}, paramLabel = "LEVEL", description = "trace, debug, info, warning, error, critical, off.")
  String logLevel = "info";

  @Option(names = "--service-cluster", paramLabel = "NAME", description = "Local service cluster name (node.cluster).")
  String serviceCluster = "";

  @Option(names = "--service-node", paramLabel = "NAME", description = "Local service node name (node.id).")
  String serviceNode = "";

  @Option(names = "--drain-time-s", paramLabel = "SECONDS", description = "How long to drain on shutdown (default 600, as Envoy).")
  int drainTimeSeconds = 600;

  @Option(names = "--restart-epoch", paramLabel = "N", description = "Hot restart epoch: 0 for the first process; N takes the listening sockets of epoch N-1 and tells it to drain.")
  int restartEpoch = 0;

  @Option(names = "--base-id", paramLabel = "N", description = "Distinguishes the hot-restart sockets of Legates sharing a host (default 0).")
  int baseId = 0;

  @Option(names = "--parent-shutdown-time-s", paramLabel = "SECONDS", description = "Longest time the previous epoch may drain after a hot restart (default 900).")
  int parentShutdownTimeSeconds = 900;

  @Option(names = "--socket-path", paramLabel = "PATH", description = "Prefix of the hot-restart domain sockets (default <tmpdir>/legate_domain_socket).")
  String socketPath = Options.DEFAULT_SOCKET_PATH;

  @Option(names = "--version", description = "Print the version and exit.")
  boolean version;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  private final PrintStream out;
  private final PrintStream err;

  Main(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new Main(System.out, System.err));
    cl.setParameterExceptionHandler(
        (ex, a) -> {
          System.err.println("legate: " + ex.getMessage());
          System.err.println("Try 'legate --help' for the options.");
          return 1;
        });
    int code = cl.execute(args);
    if (code != Integer.MIN_VALUE) {
      // The server has stopped: exit even if a library's shutdown hook or a lingering non-daemon
      // thread would hold the JVM (an exit after /quitquitquit was seen to hang past 30 s once).
      Thread halt =
          new Thread(
              () -> {
                try {
                  Thread.sleep(10_000);
                } catch (InterruptedException e) {
                  return;
                }
                System.err.println("legate: exit took over 10 s; halting. Threads:\n" + Log.threadDump());
                Runtime.getRuntime().halt(code);
              },
              "legate-exit-watchdog");
      halt.setDaemon(true);
      halt.start();
      System.exit(code);
    }
  }

  @Override
  public Integer call() {
    if (version) {
      out.println("legate version: " + Server.VERSION + "/envoy-v3-api");
      return 0;
    }
    try {
      Log.setLevel(logLevel);
    } catch (IllegalArgumentException e) {
      err.println("legate: " + e.getMessage());
      return 1;
    }
    if (!mode.equals("serve") && !mode.equals("validate")) {
      err.println("legate: invalid --mode '" + mode + "' (serve or validate)");
      return 1;
    }
    boolean quickStart = false;
    if (configPath == null && (configYaml == null || configYaml.isBlank())) {
      configYaml = quickStartConfig();
      quickStart = true;
    }
    Options options =
        new Options(
            configPath, configYaml, mode, concurrency, logLevel, serviceCluster, serviceNode, drainTimeSeconds,
            restartEpoch, baseId, parentShutdownTimeSeconds, socketPath);
    String source = configPath != null ? configPath.toString() : quickStart ? "quick start" : "--config-yaml";
    if (mode.equals("validate")) {
      try {
        Server.validate(options);
        out.println("configuration '" + source + "' OK");
        return 0;
      } catch (ConfigException e) {
        err.println("error initializing configuration '" + source + "': " + e.getMessage());
        return 1;
      }
    }
    Server server;
    try {
      server = Server.start(options);
    } catch (ConfigException e) {
      err.println("error initializing configuration '" + source + "': " + e.getMessage());
      return 1;
    }
    // SIGTERM and SIGINT drain, then the process exits 0 (as Envoy).
    for (String sig : new String[] {"TERM", "INT"}) {
      try {
        sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> server.drainAndStop());
      } catch (IllegalArgumentException e) {
        Log.warn("main", "cannot handle SIG" + sig + ": " + e.getMessage());
      }
    }
    if (quickStart) {
      out.println("Legate is running the quick-start config (no -c given).");
      out.println("  curl -s http://127.0.0.1:10000/          # proxied to a second listener");
      out.println("  curl -s http://127.0.0.1:9901/stats       # admin: stats, /clusters, /listeners, /config_dump");
      out.println("Stop with Ctrl-C (drains), or: curl -X POST http://127.0.0.1:9901/quitquitquit");
    } else {
      for (var l : server.listeners()) {
        var a = l.boundAddress();
        out.println("listener '" + l.config().name + "' on " + a.getAddress().getHostAddress() + ":" + a.getPort());
      }
      if (server.adminAddress() != null) {
        out.println("admin on " + server.adminAddress().getAddress().getHostAddress() + ":" + server.adminAddress().getPort());
      }
    }
    out.flush();
    try {
      return server.terminated().get();
    } catch (Exception e) {
      return 1;
    }
  }

  static String quickStartConfig() {
    try (InputStream in = Main.class.getResourceAsStream("/quickstart.yaml")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException | NullPointerException e) {
      throw new IllegalStateException("quickstart.yaml missing from the jar", e);
    }
  }
}
