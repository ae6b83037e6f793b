"""The bus: topology, the transactional outbox and its relay, the inbox and the consumer wrapper."""
