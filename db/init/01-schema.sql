-- Schema and seed rows: run once, by the database's initdb.d, on an empty data directory.
CREATE TABLE IF NOT EXISTS blog (
    id INT AUTO_INCREMENT PRIMARY KEY,
    title VARCHAR(255) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO blog (title) VALUES ('Blog post #0'), ('Blog post #1'), ('Blog post #2');
