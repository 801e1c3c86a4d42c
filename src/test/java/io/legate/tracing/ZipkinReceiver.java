package io.legate.tracing;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A real Zipkin v2 collector for tests: accepts {@code POST /api/v2/spans} (JSON), answers 202, and
 * keeps the spans and the {@code Host} header of each report.
 */
public final class ZipkinReceiver implements AutoCloseable {
  private final HttpServer server;
  private final List<JsonObject> spans = new CopyOnWriteArrayList<>();
  private final List<String> hosts = new CopyOnWriteArrayList<>();
  private final List<String> errors = new CopyOnWriteArrayList<>();
  private final java.util.concurrent.atomic.AtomicInteger handled = new java.util.concurrent.atomic.AtomicInteger();

  public ZipkinReceiver() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/api/v2/spans",
        exchange -> {
          try (InputStream in = exchange.getRequestBody()) {
            handled.incrementAndGet();
            String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (!exchange.getRequestMethod().equals("POST")
                || !"application/json".equals(exchange.getRequestHeaders().getFirst("content-type"))) {
              exchange.sendResponseHeaders(400, -1);
              return;
            }
            hosts.add(exchange.getRequestHeaders().getFirst("host"));
            JsonArray a = JsonParser.parseString(body).getAsJsonArray();
            for (JsonElement e : a) {
              spans.add(e.getAsJsonObject());
            }
            exchange.sendResponseHeaders(202, -1);
          } catch (RuntimeException e) {
            errors.add(e.toString());
            exchange.sendResponseHeaders(500, -1);
          } finally {
            exchange.close();
          }
        });
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** Returns every span received so far. */
  public List<JsonObject> spans() {
    return List.copyOf(spans);
  }

  /** Returns the Host header of every report received so far. */
  public List<String> hosts() {
    return List.copyOf(hosts);
  }

  /** Waits (at most {@code timeoutMs}) for a span that matches, and returns it. */
  public JsonObject await(Predicate<JsonObject> p, long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < deadline) {
      for (JsonObject s : spans) {
        if (p.test(s)) {
          return s;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no matching span within " + timeoutMs + " ms; received: " + spans + "; errors: " + errors + "; requests: " + handled);
  }

  /** Returns a tag of a span, or null. */
  public static String tag(JsonObject span, String name) {
    JsonObject tags = span.getAsJsonObject("tags");
    return tags == null || !tags.has(name) ? null : tags.get(name).getAsString();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
