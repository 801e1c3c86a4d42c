package io.legate.tracing;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.TraceServiceGrpc;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A real OTLP/gRPC trace collector for tests: keeps every span it is sent. */
public final class OtlpReceiver implements AutoCloseable {
  /** A received span, with the resource's service name. */
  public record Received(String serviceName, Span span) {
    public String traceId() {
      return HexFormat.of().formatHex(span.getTraceId().toByteArray());
    }

    public String spanId() {
      return HexFormat.of().formatHex(span.getSpanId().toByteArray());
    }

    public String parentSpanId() {
      return HexFormat.of().formatHex(span.getParentSpanId().toByteArray());
    }

    /** Returns the string attributes. */
    public Map<String, String> attributes() {
      Map<String, String> m = new java.util.TreeMap<>();
      for (KeyValue kv : span.getAttributesList()) {
        m.put(kv.getKey(), kv.getValue().getStringValue());
      }
      return m;
    }
  }

  private final List<Received> spans = new CopyOnWriteArrayList<>();
  private final Server server;

  public OtlpReceiver() throws IOException {
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(
                new TraceServiceGrpc.TraceServiceImplBase() {
                  @Override
                  public void export(
                      ExportTraceServiceRequest request, StreamObserver<ExportTraceServiceResponse> out) {
                    for (ResourceSpans rs : request.getResourceSpansList()) {
                      String service = serviceName(rs.getResource());
                      for (ScopeSpans ss : rs.getScopeSpansList()) {
                        for (Span s : ss.getSpansList()) {
                          spans.add(new Received(service, s));
                        }
                      }
                    }
                    out.onNext(ExportTraceServiceResponse.getDefaultInstance());
                    out.onCompleted();
                  }
                })
            .build()
            .start();
  }

  private static String serviceName(Resource r) {
    for (KeyValue kv : r.getAttributesList()) {
      if (kv.getKey().equals("service.name")) {
        return kv.getValue().getStringValue();
      }
    }
    return null;
  }

  public int port() {
    return server.getPort();
  }

  /** Returns every span received so far. */
  public List<Received> spans() {
    return List.copyOf(spans);
  }

  /** Waits (at most {@code timeoutMs}) for a span that matches, and returns it. */
  public Received await(Predicate<Received> p, long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < deadline) {
      for (Received r : spans) {
        if (p.test(r)) {
          return r;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no matching span within " + timeoutMs + " ms; received: " + spans);
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
