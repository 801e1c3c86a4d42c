package io.legate.tracing.zipkin;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterManager;
import io.legate.upstream.Host;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import zipkin2.reporter.BytesMessageSender;
import zipkin2.reporter.Encoding;

/**
 * Posts encoded Zipkin spans to a host of a Legate cluster, as Envoy's Zipkin reporter: {@code POST
 * <collector_endpoint>} with {@code Host: <collector_hostname>}, round-robin over the cluster's
 * healthy hosts (all hosts when none is healthy), following its membership. Runs on the span
 * processor's export thread, never on a worker; one connection per report.
 *
 * <p>Counts Envoy's {@code tracing.zipkin.reports_sent} (2xx), {@code reports_dropped} (other
 * statuses), {@code reports_failed} (connection or I/O errors) and {@code
 * reports_skipped_no_cluster}.
 */
final class ClusterHttpSender extends BytesMessageSender.Base {
  static final int TIMEOUT_MS = 5000;

  private final ClusterManager clusters;
  private final String clusterName;
  private final String endpoint;
  private final String hostname;
  private final AtomicInteger next = new AtomicInteger();
  private final Counter reportsSent;
  private final Counter reportsDropped;
  private final Counter reportsFailed;
  private final Counter reportsSkippedNoCluster;

  ClusterHttpSender(
      ClusterManager clusters, String clusterName, String endpoint, String hostname, Encoding encoding, StatsStore stats) {
    super(encoding);
    this.clusters = clusters;
    this.clusterName = clusterName;
    this.endpoint = endpoint.startsWith("/") ? endpoint : "/" + endpoint;
    this.hostname = hostname;
    this.reportsSent = stats.counter("tracing.zipkin.reports_sent");
    this.reportsDropped = stats.counter("tracing.zipkin.reports_dropped");
    this.reportsFailed = stats.counter("tracing.zipkin.reports_failed");
    this.reportsSkippedNoCluster = stats.counter("tracing.zipkin.reports_skipped_no_cluster");
  }

  @Override
  public int messageMaxBytes() {
    return 5 * 1024 * 1024;
  }

  @Override
  public void send(List<byte[]> encodedSpans) throws IOException {
    Host host = pick();
    if (host == null) {
      reportsSkippedNoCluster.inc();
      throw new IOException("zipkin collector cluster '" + clusterName + "' has no hosts");
    }
    byte[] body = encoding.encode(encodedSpans);
    int status;
    try {
      status = post(host, body);
    } catch (IOException e) {
      reportsFailed.inc();
      throw e;
    }
    if (status / 100 != 2) {
      reportsDropped.inc();
      throw new IOException("zipkin collector answered " + status);
    }
    reportsSent.inc();
  }

  private Host pick() {
    Cluster c = clusters.get(clusterName);
    if (c == null) {
      return null;
    }
    List<Host> all = new ArrayList<>();
    List<Host> healthy = new ArrayList<>();
    for (List<Host> level : c.prioritySet().byPriority()) {
      for (Host h : level) {
        all.add(h);
        if (h.healthy()) {
          healthy.add(h);
        }
      }
    }
    List<Host> from = healthy.isEmpty() ? all : healthy;
    if (from.isEmpty()) {
      return null;
    }
    return from.get(Math.floorMod(next.getAndIncrement(), from.size()));
  }

  private int post(Host host, byte[] body) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(host.address(), TIMEOUT_MS);
      s.setSoTimeout(TIMEOUT_MS);
      String head =
          "POST " + endpoint + " HTTP/1.1\r\n"
              + "host: " + hostname + "\r\n"
              + "content-type: " + encoding.mediaType() + "\r\n"
              + "content-length: " + body.length + "\r\n"
              + "user-agent: legate\r\n"
              + "connection: close\r\n\r\n";
      OutputStream out = s.getOutputStream();
      out.write(head.getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
      InputStream in = new BufferedInputStream(s.getInputStream());
      String statusLine = readLine(in);
      // "HTTP/1.1 202 Accepted"
      int sp = statusLine.indexOf(' ');
      if (!statusLine.startsWith("HTTP/") || sp < 0 || statusLine.length() < sp + 4) {
        throw new IOException("malformed response from zipkin collector: '" + statusLine + "'");
      }
      try {
        return Integer.parseInt(statusLine.substring(sp + 1, sp + 4));
      } catch (NumberFormatException e) {
        throw new IOException("malformed response from zipkin collector: '" + statusLine + "'");
      }
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n') {
      if (c != '\r') {
        sb.append((char) c);
      }
      if (sb.length() > 8192) {
        break;
      }
    }
    return sb.toString();
  }

  @Override
  public void close() {}
}
