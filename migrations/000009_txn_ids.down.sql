DROP TABLE txn_ids;
