package io.legate.xds;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.StringValue;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The delta protocol on a fake stream: subscriptions, state of the world handed to the watcher, ACK/NACK, reconnects. */
class DeltaGrpcMuxTest {
  final StatsStore stats = new StatsStore();
  final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  final List<List<DeltaDiscoveryRequest>> streams = new ArrayList<>();
  final List<StreamObserver<DeltaDiscoveryResponse>> responders = new ArrayList<>();
  final List<List<String>> applied = new ArrayList<>();
  final UpdateStats sdsStats = new UpdateStats(stats, "sds.");
  boolean refuse;

  final DeltaGrpcMux mux =
      new DeltaGrpcMux(
          "ads",
          responses -> {
            List<DeltaDiscoveryRequest> sent = new ArrayList<>();
            streams.add(sent);
            responders.add(responses);
            return new StreamObserver<>() {
              @Override
              public void onNext(DeltaDiscoveryRequest r) {
                sent.add(r);
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {}
            };
          },
          Node.newBuilder().setId("n1").build(),
          true,
          Runnable::run,
          timer,
          stats.gauge("control_plane.connected_state"));

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  static Any secret(String name, String value) {
    return Any.pack(Secret.newBuilder().setName(name).setGenericSecret(
        io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.GenericSecret.newBuilder()
            .setSecret(io.envoyproxy.envoy.config.core.v3.DataSource.newBuilder().setInlineString(value))).build());
  }

  static DeltaDiscoveryResponse response(String nonce, List<String> removed, Object... nameVersionValue) {
    DeltaDiscoveryResponse.Builder b =
        DeltaDiscoveryResponse.newBuilder().setTypeUrl(ResourceType.SECRET.typeUrl()).setNonce(nonce).setSystemVersionInfo("sys-" + nonce)
            .addAllRemovedResources(removed);
    for (int i = 0; i < nameVersionValue.length; i += 3) {
      String name = (String) nameVersionValue[i];
      b.addResources(Resource.newBuilder().setName(name).setVersion((String) nameVersionValue[i + 1])
          .setResource(secret(name, (String) nameVersionValue[i + 2])));
    }
    return b.build();
  }

  void watch() {
    mux.watch(
        ResourceType.SECRET,
        Set.of("a", "b"),
        (resources, version) -> {
          List<String> names = new ArrayList<>();
          for (Any r : resources) {
            try {
              Secret s = r.unpack(Secret.class);
              names.add(s.getName() + "=" + s.getGenericSecret().getSecret().getInlineString());
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          }
          if (refuse) {
            throw new ConfigException("a.generic_secret", "refused");
          }
          applied.add(names);
        },
        sdsStats);
  }

  @Test
  void subscribesAcksNacksAndResumesWithTheVersionsHeld() throws Exception {
    watch();
    mux.start();
    DeltaDiscoveryRequest first = streams.get(0).get(0);
    assertThat(first.getTypeUrl()).isEqualTo(ResourceType.SECRET.typeUrl());
    assertThat(first.getResourceNamesSubscribeList()).containsExactly("a", "b");
    assertThat(first.getNode().getId()).isEqualTo("n1");
    assertThat(first.getInitialResourceVersionsMap()).isEmpty();

    responders.get(0).onNext(response("1", List.of(), "a", "va1", "x", "b", "vb1", "y"));
    assertThat(applied).containsExactly(List.of("a=x", "b=y"));
    DeltaDiscoveryRequest ack = streams.get(0).get(1);
    assertThat(ack.getResponseNonce()).isEqualTo("1");
    assertThat(ack.hasErrorDetail()).isFalse();
    assertThat(ack.hasNode()).isFalse();
    assertThat(ack.getResourceNamesSubscribeCount()).isZero();

    // only "a" changes: the watcher still gets the whole state
    responders.get(0).onNext(response("2", List.of(), "a", "va2", "z"));
    assertThat(applied.get(1)).containsExactly("a=z", "b=y");

    // a refused update is NACKed and the resources held stay as they were
    refuse = true;
    responders.get(0).onNext(response("3", List.of("b"), "a", "va3", "bad"));
    DeltaDiscoveryRequest nack = streams.get(0).get(3);
    assertThat(nack.getResponseNonce()).isEqualTo("3");
    assertThat(nack.getErrorDetail().getMessage()).isEqualTo("a.generic_secret: refused");
    assertThat(nack.getErrorDetail().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
    assertThat(mux.versions(ResourceType.SECRET)).isEqualTo(Map.of("a", "va2", "b", "vb1"));
    assertThat(sdsStats.updateRejected.value()).isEqualTo(1);
    assertThat(sdsStats.updateSuccess.value()).isEqualTo(2);
    refuse = false;

    // removed_resources drops a resource from the state
    responders.get(0).onNext(response("4", List.of("b")));
    assertThat(applied.get(2)).containsExactly("a=z");

    // names change: only the difference is sent
    mux.updateNames(ResourceType.SECRET, Set.of("a", "c"));
    DeltaDiscoveryRequest change = streams.get(0).get(5);
    assertThat(change.getResourceNamesSubscribeList()).containsExactly("c");
    assertThat(change.getResourceNamesUnsubscribeList()).containsExactly("b");
    assertThat(change.getResponseNonce()).isEmpty();

    // the stream breaks: the new one subscribes again with the versions held
    responders.get(0).onError(Status.UNAVAILABLE.asRuntimeException());
    long deadline = System.currentTimeMillis() + 5_000;
    while (streams.size() < 2 && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    DeltaDiscoveryRequest resumed = streams.get(1).get(0);
    assertThat(resumed.getResourceNamesSubscribeList()).containsExactly("a", "c");
    assertThat(resumed.getInitialResourceVersionsMap()).isEqualTo(Map.of("a", "va2"));
    assertThat(resumed.getNode().getId()).isEqualTo("n1");
  }

  @Test
  void aResourceOfTheWrongTypeIsNacked() {
    watch();
    mux.start();
    responders.get(0).onNext(
        DeltaDiscoveryResponse.newBuilder().setTypeUrl(ResourceType.SECRET.typeUrl()).setNonce("n")
            .addResources(Resource.newBuilder().setName("a").setVersion("1").setResource(Any.pack(StringValue.of("x"))))
            .build());
    DeltaDiscoveryRequest nack = streams.get(0).get(1);
    assertThat(nack.getErrorDetail().getMessage())
        .isEqualTo("resources: expected type type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret, found type.googleapis.com/google.protobuf.StringValue");
    assertThat(applied).isEmpty();
  }
}
