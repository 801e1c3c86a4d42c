package io.legate.testing;

import io.legate.server.Options;
import io.legate.server.Server;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/** Starts a whole Legate server from YAML for a test, and talks to it. */
public final class Legate implements AutoCloseable {
  private final Server server;
  private final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  private Legate(Server server) {
    this.server = server;
  }

  /** Starts from YAML after replacing each {@code ${KEY}} with its value. */
  public static Legate start(String yaml, Map<String, ?> vars) {
    String y = yaml;
    for (Map.Entry<String, ?> e : vars.entrySet()) {
      y = y.replace("${" + e.getKey() + "}", String.valueOf(e.getValue()));
    }
    return new Legate(Server.start(Options.ofYaml(y, 2)));
  }

  public static Legate start(String yaml) {
    return start(yaml, Map.of());
  }

  public Server server() {
    return server;
  }

  public int port(String listener) {
    return server.listenerAddress(listener).getPort();
  }

  public int adminPort() {
    return server.adminAddress().getPort();
  }

  public URI uri(String listener, String path) {
    return URI.create("http://127.0.0.1:" + port(listener) + path);
  }

  /** Sends a GET with the JDK client over HTTP/1.1. */
  public HttpResponse<String> get(String listener, String path, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(listener, path)).timeout(Duration.ofSeconds(20));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b.GET().build());
  }

  public HttpResponse<String> send(HttpRequest r) {
    try {
      // Bounded: a request the proxy never answers fails the test instead of hanging it.
      return client.sendAsync(r, HttpResponse.BodyHandlers.ofString()).get(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new RuntimeException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RuntimeException(e);
    }
  }

  public HttpClient client() {
    return client;
  }

  /** GET on the admin port. */
  public HttpResponse<String> admin(String path) {
    return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort() + path)).GET().build());
  }

  /** POST on the admin port. */
  public HttpResponse<String> adminPost(String path) {
    return send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort() + path))
            .POST(HttpRequest.BodyPublishers.noBody())
            .build());
  }

  /** Returns a counter or gauge value from /stats, or -1 when absent. */
  public long stat(String name) {
    String body = admin("/stats").body();
    for (String line : body.split("\n")) {
      if (line.startsWith(name + ": ")) {
        String v = line.substring(name.length() + 2).trim();
        try {
          return Long.parseLong(v);
        } catch (NumberFormatException e) {
          return -1;
        }
      }
    }
    return -1;
  }

  /** Writes raw bytes on a new connection and returns everything read until the peer closes or the timeout. */
  public String raw(String listener, String request, int timeoutMs) {
    return new Raw("127.0.0.1", port(listener)).send(request, timeoutMs);
  }

  /** A raw TCP exchange with any address. */
  public record Raw(String host, int port) {
    /** Writes the request and returns what arrives until the peer closes or the timeout. */
    public String send(String request, int timeoutMs) {
      return exchange(host, port, request, timeoutMs);
    }
  }

  static String exchange(String host, int port, String request, int timeoutMs) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 5000);
      s.setSoTimeout(timeoutMs);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      StringBuilder sb = new StringBuilder();
      byte[] buf = new byte[8192];
      try {
        int n;
        while ((n = in.read(buf)) > 0) {
          sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
      } catch (java.net.SocketTimeoutException e) {
        // what arrived is the answer
      }
      return sb.toString();
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  @Override
  public void close() {
    server.shutdownNow();
  }
}
