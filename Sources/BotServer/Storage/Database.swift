import Logging

/// The bot's SQLite database: one writer connection (group commit), one reader, and one
/// connection that only checkpoints.
final class Database: Sendable {
    static let fileName = "bot.sqlite"

    let path: String
    let writer: DatabaseWriter
    let reader: DatabaseReader
    let checkpointer: WALCheckpointer

    private init(path: String, writer: DatabaseWriter, reader: DatabaseReader, checkpointer: WALCheckpointer) {
        self.path = path
        self.writer = writer
        self.reader = reader
        self.checkpointer = checkpointer
    }

    /// Opens (creating if needed) `directory/bot.sqlite` and migrates it. Blocks while doing
    /// so; meant for start-up, before anything else uses the database.
    static func open(
        directory: String, busyTimeoutMilliseconds: Int = ConnectionSetup.defaultBusyTimeoutMilliseconds,
        checkpointThresholdPages: Int = WALCheckpointer.defaultThresholdPages, flush: WALSyncer.Flush? = nil,
        logger: Logger
    ) throws -> Database {
        try DataDirectory.create(directory)
        let path = directory + "/" + fileName

        let writeConnection = try SQLiteConnection(path: path, mode: .readWriteCreate)
        // Migrated before the writer takes the connection, so no write can see an old schema.
        do {
            try ConnectionSetup.configureWriter(writeConnection, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            try Migrations.apply(to: writeConnection, logger: logger)
        } catch {
            writeConnection.close()
            throw error
        }
        // Opened after the writer: a read-only connection cannot create the WAL index.
        let readConnection: SQLiteConnection
        let checkpointConnection: SQLiteConnection
        do {
            readConnection = try SQLiteConnection(path: path, mode: .readOnly)
            try ConnectionSetup.configureReader(readConnection, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            checkpointConnection = try SQLiteConnection(path: path, mode: .readWrite)
            try ConnectionSetup.configureCheckpointer(checkpointConnection, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        } catch {
            writeConnection.close()
            throw error
        }
        let checkpointer = WALCheckpointer(
            connection: checkpointConnection, thresholdPages: checkpointThresholdPages, logger: logger)
        writeConnection.observeWALCommits { pages in checkpointer.logGrew(toPages: pages) }
        logger.info("database open", metadata: ["path": "\(path)", "schema_version": "\(Migrations.latestVersion)"])
        return Database(
            path: path,
            // `flush` stands in for the fdatasync of the WAL in tests that hold or fail it.
            writer: DatabaseWriter(
                connection: writeConnection, syncer: flush.map { WALSyncer(flush: $0, logger: logger) }, logger: logger),
            reader: DatabaseReader(connection: readConnection), checkpointer: checkpointer)
    }

    /// The writer last: the last connection to close checkpoints the WAL into the main file
    /// and removes it, which a read-only connection cannot do.
    func close() async {
        await reader.close()
        await checkpointer.close()
        await writer.close()
    }
}
