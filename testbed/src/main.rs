fn main() {
    // OWNER: server helper: `mongo-testbed --port --bind --dbpath --replset --oplog-max-entries`.
}
