//! The directory's folder tree with member counts.

use super::directory_of;
use crate::error::AppResult;
use crate::model::{DirectoryView, FolderView};
use crate::ssr::Services;
use crate::ssr::session::Principal;
use sqlx::AnyConnection;
use std::collections::HashMap;

#[derive(sqlx::FromRow)]
pub(super) struct FolderRow {
    pub(super) id: String,
    pub(super) parent_id: Option<String>,
    pub(super) name: String,
    depth: i64,
}

pub(super) async fn folders(
    conn: &mut AnyConnection,
    directory: &str,
) -> AppResult<Vec<FolderRow>> {
    Ok(
        sqlx::query_as("SELECT id, parent_id, name, depth FROM folders WHERE directory_id = $1")
            .bind(directory)
            .fetch_all(conn)
            .await?,
    )
}

/// Orders folders parents first, siblings by name, and adds every folder's subtree total.
fn build_tree(
    directory: &str,
    rows: Vec<FolderRow>,
    direct: &HashMap<String, i64>,
) -> DirectoryView {
    let mut children: HashMap<Option<String>, Vec<&FolderRow>> = HashMap::new();
    for row in &rows {
        children.entry(row.parent_id.clone()).or_default().push(row);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
    }
    fn total(
        id: &str,
        children: &HashMap<Option<String>, Vec<&FolderRow>>,
        direct: &HashMap<String, i64>,
        depth: u8,
    ) -> i64 {
        let own = direct.get(id).copied().unwrap_or(0);
        // Folders nest at most 5 levels; the bound only guards against a cycle in bad data.
        if depth > 16 {
            return own;
        }
        own + children
            .get(&Some(id.to_string()))
            .map(|list| {
                list.iter()
                    .map(|c| total(&c.id, children, direct, depth + 1))
                    .sum::<i64>()
            })
            .unwrap_or(0)
    }
    let mut folders = Vec::with_capacity(rows.len());
    let mut stack: Vec<&FolderRow> = children
        .get(&None)
        .map(|l| l.iter().rev().copied().collect())
        .unwrap_or_default();
    while let Some(folder) = stack.pop() {
        if folders.len() > rows.len() {
            break;
        }
        folders.push(FolderView {
            id: folder.id.clone(),
            parent_id: folder.parent_id.clone(),
            name: folder.name.clone(),
            depth: folder.depth,
            members: direct.get(&folder.id).copied().unwrap_or(0),
            total_members: total(&folder.id, &children, direct, 0),
        });
        if let Some(list) = children.get(&Some(folder.id.clone())) {
            stack.extend(list.iter().rev().copied());
        }
    }
    DirectoryView {
        directory_id: directory.to_string(),
        folders,
    }
}

/// The folder tree with member counts.
#[tracing::instrument(skip(services, principal), fields(principal = %principal.name))]
pub async fn tree(services: &Services, principal: &Principal) -> AppResult<DirectoryView> {
    let directory = directory_of(principal)?;
    let mut conn = services.db.pool.acquire().await?;
    let rows = folders(&mut conn, directory).await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT folder_id, COUNT(*) FROM directory_members WHERE directory_id = $1 GROUP BY folder_id",
    )
    .bind(directory)
    .fetch_all(&mut *conn)
    .await?;
    Ok(build_tree(directory, rows, &counts.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, parent: Option<&str>, name: &str, depth: i64) -> FolderRow {
        FolderRow {
            id: id.into(),
            parent_id: parent.map(Into::into),
            name: name.into(),
            depth,
        }
    }

    #[test]
    fn the_tree_lists_parents_first_and_sums_subtrees() {
        let rows = vec![
            folder("fd-web", Some("fd-production"), "Web", 3),
            folder("fd-root", None, "Root", 1),
            folder("fd-development", Some("fd-root"), "Development", 2),
            folder("fd-production", Some("fd-root"), "Production", 2),
            folder("fd-data", Some("fd-production"), "Data", 3),
        ];
        let direct: HashMap<String, i64> = [
            ("fd-root", 2),
            ("fd-web", 2),
            ("fd-data", 2),
            ("fd-production", 2),
            ("fd-development", 2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let tree = build_tree("rd-acme", rows, &direct);
        let order: Vec<&str> = tree.folders.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            order,
            [
                "fd-root",
                "fd-development",
                "fd-production",
                "fd-data",
                "fd-web"
            ]
        );
        let totals: Vec<i64> = tree.folders.iter().map(|f| f.total_members).collect();
        assert_eq!(totals, [10, 2, 6, 2, 2]);
    }
}
