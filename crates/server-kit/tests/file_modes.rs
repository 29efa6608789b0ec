//! Attack: reading the signing keys and client secrets off disk. Every SQLite file a
//! server opens (the database and the `-wal`/`-shm` files SQLite adds) is readable by its
//! owner only, even when the process's umask would have made it world-readable.

#![cfg(all(unix, feature = "sqlite"))]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn mode(path: &Path) -> Option<u32> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(metadata.permissions().mode() & 0o777)
}

#[tokio::test]
async fn database_files_are_readable_by_their_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let url = format!("sqlite://{}", db.display());
    let pool = server_kit::db::sqlite_pool(&url, 2).await.unwrap();
    sqlx::query("CREATE TABLE secrets (value TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO secrets VALUES ('x')")
        .execute(&pool)
        .await
        .unwrap();
    for file in ["keys.db", "keys.db-wal", "keys.db-shm"] {
        let path = dir.path().join(file);
        assert!(path.exists(), "{file} was not created");
        assert_eq!(mode(&path), Some(0o600), "{file}");
    }
    pool.close().await;
}

#[tokio::test]
async fn an_existing_world_readable_database_is_narrowed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", db.display());
    let pool = server_kit::db::sqlite_pool(&url, 1).await.unwrap();
    assert_eq!(mode(&db), Some(0o600));
    pool.close().await;
}
