// Neo4j 5 Community embedded with its Bolt connector on loopback: the Bolt graph server of
// archon-tui's integration tests (scripts/test-services.sh compiles and starts it).
// Usage: java -cp 'libs/*:.' Neo4jBolt <data dir> <bolt port>
// Prints "neo4j ready on 127.0.0.1:<port>" once Bolt accepts connections; shuts down cleanly
// on SIGTERM (the store is durable: a restart on the same dir sees every committed write).
import java.nio.file.Path;
import java.time.Duration;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

public class Neo4jBolt {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Neo4jBolt <data dir> <bolt port>");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(dir)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(HttpConnector.enabled, false)
                // Tests connect with any user/password, as to a Memgraph without auth.
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(128))
                .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(2))
                .build();
        dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME); // waits until it is available
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown));
        System.out.println("neo4j ready on 127.0.0.1:" + port);
        System.out.flush();
        Thread.currentThread().join();
    }
}
