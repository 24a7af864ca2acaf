package io.dbrollback.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.node.v1.WriteBatchRequest;
import io.dbrollback.node.v1.WriteRequest;
import io.dbrollback.testing.IntegrationTest;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that reads a 24 MB tail one message at a time, slowly: the node sends only as fast as the
 * client takes (gRPC flow control), so what it has in flight, and so its memory, stays bounded by
 * the transport's window instead of growing with the tail.
 */
@IntegrationTest
class SlowTailReaderTest {

    @TempDir
    Path dir;

    @Test
    void aSlowReaderHoldsBackTheNodeInsteadOfMakingItBufferTheTail() throws Exception {
        int records = 100_000;
        String value = "x".repeat(200);
        try (ReplicaNode node = ReplicaNode.start(ReplicaNode.Config.of("n0", dir, 3));
                NodeClient c = new NodeClient(node.address())) {
            c.promote(1);
            for (int b = 0; b < records / 1000; b++) {
                WriteBatchRequest.Builder batch = WriteBatchRequest.newBuilder();
                for (int i = 0; i < 1000; i++) {
                    batch.addWrites(WriteRequest.newBuilder().setKey(NodeClient.utf8("key-" + (b * 1000 + i)))
                            .setValue(NodeClient.utf8(value)));
                }
                c.db.writeBatch(batch.build());
            }
            assertEquals(records, c.timeline().getLastLsn());
            c.fence(2, "inc-slow");

            AtomicLong received = new AtomicLong();
            AtomicLong maxInFlight = new AtomicLong();
            // In flight is measured while the reader asks for one message at a time; the drain that
            // follows asks for a thousand at once, so it may legitimately have more in flight.
            AtomicBoolean slow = new AtomicBoolean(true);
            TailDigest digest = new TailDigest();
            Semaphore messages = new Semaphore(0);
            CompletableFuture<String> trailer = new CompletableFuture<>();
            ClientCallStreamObserver<?>[] callRef = new ClientCallStreamObserver<?>[1];
            RollbackAgentGrpc.newStub(c.channel).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                    .setFromExclusive(0).setToInclusive(records).setMaxRecordsPerChunk(64).build(),
                    new ClientResponseObserver<ReadDivergentTailRequest, TailMessage>() {
                        @Override
                        public void beforeStart(ClientCallStreamObserver<ReadDivergentTailRequest> call) {
                            callRef[0] = call;
                            call.disableAutoRequestWithInitial(1);
                        }

                        @Override
                        public void onNext(TailMessage m) {
                            if (m.hasTrailer()) {
                                trailer.complete(m.getTrailer().getSha256());
                                return;
                            }
                            for (var r : m.getChunk().getRecordsList()) {
                                TailRecord t = AgentProtos.fromProto(r);
                                digest.add(t);
                            }
                            long got = received.addAndGet(m.getChunk().getRecordsCount());
                            if (slow.get()) {
                                maxInFlight.accumulateAndGet(node.tailRecordsSent() - got, Math::max);
                            }
                            messages.release();
                        }

                        @Override
                        public void onError(Throwable t) {
                            trailer.completeExceptionally(t);
                        }

                        @Override
                        public void onCompleted() {
                        }
                    });
            // The slow reader: one more message every 2 ms, for the first 300 messages; then it drains.
            for (int i = 0; i < 300; i++) {
                assertTrue(messages.tryAcquire(10, TimeUnit.SECONDS), "message " + i);
                Thread.sleep(2);
                callRef[0].request(1);
            }
            slow.set(false);
            long heldBack = records - node.tailRecordsSent();
            while (!trailer.isDone()) {
                callRef[0].request(1000);
                messages.tryAcquire(100, TimeUnit.MILLISECONDS);
            }
            assertEquals(digest.finish(), trailer.get(), "the slowly read tail is complete and intact");
            assertEquals(records, received.get());
            long tailBytes = digest.bytes();
            System.out.printf("slow reader: tail %d records (%d bytes), most in flight %d records, held back %d%n",
                    records, tailBytes, maxInFlight.get(), heldBack);
            assertTrue(heldBack > records / 2, "while the reader was slow the node had not sent most of the tail: "
                    + heldBack + " of " + records + " held back");
            assertTrue(maxInFlight.get() < records / 10, "while the reader was slow, in flight stayed within the "
                    + "transport window: "
                    + maxInFlight.get() + " records of " + records);
        }
    }
}
