package io.legate.upstream.health;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.data.core.v3.DegradedHealthyHost;
import io.envoyproxy.envoy.data.core.v3.HealthCheckAddHealthy;
import io.envoyproxy.envoy.data.core.v3.HealthCheckEjectUnhealthy;
import io.envoyproxy.envoy.data.core.v3.HealthCheckEvent;
import io.envoyproxy.envoy.data.core.v3.HealthCheckFailure;
import io.envoyproxy.envoy.data.core.v3.HealthCheckFailureType;
import io.envoyproxy.envoy.data.core.v3.HealthCheckSuccessful;
import io.envoyproxy.envoy.data.core.v3.HealthCheckerType;
import io.envoyproxy.envoy.data.core.v3.NoLongerDegradedHost;
import io.legate.upstream.Host;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;

/**
 * Writes Envoy's {@code HealthCheckEvent}s as JSON lines to {@code event_log_path}. Events are
 * built on the main loop and appended by a dedicated thread, so the loop never blocks on the file.
 * Main loop only.
 */
final class HealthCheckEventLogger implements AutoCloseable {
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().includingDefaultValueFields().preservingProtoFieldNames()
          .omittingInsignificantWhitespace();

  private final Path path;
  private final HealthCheckerType type;
  private final String clusterName;
  private final LongSupplier wallMillis;
  private ExecutorService writer;
  private boolean closed;

  HealthCheckEventLogger(Path path, HealthCheckConfig.Type type, String clusterName, LongSupplier wallMillis) {
    this.path = path;
    this.type = HealthCheckerType.valueOf(type.name());
    this.clusterName = clusterName;
    this.wallMillis = wallMillis;
  }

  void ejectUnhealthy(Host host, HealthCheckFailureType failure) {
    log(base(host).setEjectUnhealthyEvent(HealthCheckEjectUnhealthy.newBuilder().setFailureType(failure)));
  }

  void addHealthy(Host host, boolean firstCheck) {
    log(base(host).setAddHealthyEvent(HealthCheckAddHealthy.newBuilder().setFirstCheck(firstCheck)));
  }

  void unhealthy(Host host, HealthCheckFailureType failure, boolean firstCheck) {
    log(base(host).setHealthCheckFailureEvent(
        HealthCheckFailure.newBuilder().setFailureType(failure).setFirstCheck(firstCheck)));
  }

  void successful(Host host) {
    log(base(host).setSuccessfulHealthCheckEvent(HealthCheckSuccessful.getDefaultInstance()));
  }

  void degraded(Host host) {
    log(base(host).setDegradedHealthyHost(DegradedHealthyHost.getDefaultInstance()));
  }

  void noLongerDegraded(Host host) {
    log(base(host).setNoLongerDegradedHost(NoLongerDegradedHost.getDefaultInstance()));
  }

  private HealthCheckEvent.Builder base(Host host) {
    long now = wallMillis.getAsLong();
    return HealthCheckEvent.newBuilder()
        .setHealthCheckerType(type)
        .setHost(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder()
            .setAddress(host.address().getAddress().getHostAddress())
            .setPortValue(host.address().getPort())))
        .setClusterName(clusterName)
        .setTimestamp(Timestamp.newBuilder().setSeconds(now / 1000).setNanos((int) (now % 1000) * 1_000_000));
  }

  private void log(HealthCheckEvent.Builder event) {
    String line;
    try {
      line = PRINTER.print(event) + "\n";
    } catch (InvalidProtocolBufferException e) {
      return;
    }
    if (closed) {
      return;
    }
    if (writer == null) {
      // Created on first use: a config that is only validated starts no thread.
      writer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "legate-hc-event-log");
        t.setDaemon(true);
        return t;
      });
    }
    writer.execute(() -> {
      try {
        Files.writeString(path, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
            StandardOpenOption.APPEND, StandardOpenOption.WRITE);
      } catch (IOException e) {
        // Envoy drops events it cannot write.
      }
    });
  }

  @Override
  public void close() {
    closed = true;
    if (writer != null) {
      writer.shutdown();
    }
  }
}
