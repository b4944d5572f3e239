//! The member list: a page of a directory's members, searched and sorted, and the SQL it runs.

use super::{MEMBER_COLUMNS, MemberRow, directory_of};
use crate::domain::Region;
use crate::domain::member_search::MemberSearch;
use crate::error::{AppError, AppResult};
use crate::model::{MemberPage, MemberSort};
use crate::ssr::Services;
use crate::ssr::db::Backend;
use crate::ssr::session::Principal;
use sqlx::AnyConnection;

/// The largest page the member list serves.
pub const MAX_PAGE_SIZE: i64 = 100;
/// How far past the page a plain list counts its members, and a name search its matches.
pub const LIST_COUNT_CAP: i64 = 10_000;
pub const SEARCH_COUNT_CAP: i64 = 1_000;
/// Up to this many matches a name search reads them through the trigram index and sorts them;
/// past it, it walks the ordered index, where matches are dense enough to fill a page soon.
const SPARSE_MATCHES: i64 = 500;

/// A LIKE pattern matching `text` anywhere, with the pattern characters escaped by `\`.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Folder ids are short slugs; anything else is refused before it reaches a query.
fn check_folder_id(folder: &str) -> AppResult<()> {
    let ok = !folder.is_empty()
        && folder.len() <= 64
        && folder
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("invalid-folder-id"))
    }
}

/// A page request of the member list, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberQuery {
    pub search: String,
    pub folder_id: Option<String>,
    pub sort: MemberSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

impl MemberQuery {
    pub fn check(&self) -> AppResult<()> {
        if !(1..=MAX_PAGE_SIZE).contains(&self.limit) {
            return Err(AppError::invalid_with(
                "invalid-page-size",
                &[("max", MAX_PAGE_SIZE.to_string())],
            ));
        }
        if !(0..=10_000_000).contains(&self.offset) {
            return Err(AppError::invalid("invalid-page-offset"));
        }
        if let Some(folder) = &self.folder_id {
            check_folder_id(folder)?;
        }
        Ok(())
    }
}

/// A SQL text with its bound values, numbered as both backends read them (`$1`, `$2` …).
#[derive(Default)]
struct Sql {
    /// The text, once built; the fragment builders below only return pieces of it.
    sql: String,
    args: Vec<Arg>,
}

enum Arg {
    Text(String),
    Int(i64),
}

impl Sql {
    fn text(&mut self, value: impl Into<String>) -> String {
        self.args.push(Arg::Text(value.into()));
        format!("${}", self.args.len())
    }

    fn int(&mut self, value: i64) -> String {
        self.args.push(Arg::Int(value));
        format!("${}", self.args.len())
    }

    /// The conditions on `directory_members` for one directory, folder and search. A name is
    /// matched through the trigram index (`NameMatch::Indexed`) or by reading the name of every
    /// row the query passes (`NameMatch::Scan`); both give the same members.
    fn member_filter(
        &mut self,
        backend: Backend,
        directory: &str,
        folder: Option<&str>,
        search: &MemberSearch,
        name_match: NameMatch,
    ) -> String {
        let mut filter = format!("directory_id = {}", self.text(directory));
        if let Some(folder) = folder {
            filter += &format!(" AND folder_id = {}", self.text(folder));
        }
        match search {
            MemberSearch::All => {}
            MemberSearch::AccountId(id) => {
                filter += &format!(" AND account_id = {}", self.text(id.as_str()))
            }
            MemberSearch::Phone(numbers) => {
                let list: Vec<String> = numbers.iter().map(|n| self.text(n.e164())).collect();
                filter += &format!(
                    " AND account_id IN (SELECT id FROM accounts WHERE phone IN ({}))",
                    list.join(", ")
                );
            }
            MemberSearch::Name(text) => match (backend, name_match) {
                (Backend::Sqlite, NameMatch::Indexed) if trigram_searchable(text) => {
                    let fts = self.trigram_matches(text, directory, folder);
                    filter +=
                        &format!(" AND account_id IN (SELECT printf('%016d', rowid) FROM {fts})");
                }
                // SQLite's LIKE ignores ASCII case by itself, as its lower() does.
                (Backend::Sqlite, _) => {
                    filter += &format!(
                        " AND display_name LIKE {} ESCAPE '\\'",
                        self.text(contains_pattern(text))
                    );
                }
                // PostgreSQL picks the trigram index or the ordered scan by itself; `\` is
                // its default LIKE escape.
                (Backend::Postgres, _) => {
                    filter += &format!(
                        " AND lower(display_name) LIKE {}",
                        self.text(contains_pattern(text))
                    );
                }
            },
        }
        filter
    }

    /// `member_name_trigrams WHERE …`: the SQLite trigram index rows (keyed by the numeric
    /// account id) whose name contains `text`, in one directory (and folder).
    fn trigram_matches(&mut self, text: &str, directory: &str, folder: Option<&str>) -> String {
        let phrase = format!("\"{}\"", text.replace('"', "\"\""));
        let mut sql = format!(
            "member_name_trigrams WHERE member_name_trigrams MATCH {} AND directory_id = {}",
            self.text(phrase),
            self.text(directory)
        );
        if let Some(folder) = folder {
            sql += &format!(" AND folder_id = {}", self.text(folder));
        }
        sql
    }
}

/// How a name search reads the names: through the trigram index, or along the ordered index.
/// The index wins when the matches are few; the ordered scan when they are many, because it
/// stops as soon as the page is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameMatch {
    Indexed,
    Scan,
}

/// Trigram indexes find substrings of three characters or more.
fn trigram_searchable(text: &str) -> bool {
    text.chars().count() >= 3
}

/// The ORDER BY of a sort; each one matches an index of migration 0002, so a page reads only
/// the index entries it skips and returns.
fn order_by(sort: MemberSort, descending: bool, table: &str) -> String {
    let dir = if descending { " DESC" } else { "" };
    match sort {
        MemberSort::DisplayName => {
            format!("lower({table}display_name){dir}, {table}account_id{dir}")
        }
        MemberSort::AccountId => format!("{table}account_id{dir}"),
        MemberSort::JoinedAt => format!("{table}joined_at{dir}, {table}account_id{dir}"),
    }
}

/// A query over a built SQL text with its values bound in order.
fn query_with<'q, O>(
    sql: String,
    args: Vec<Arg>,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, <sqlx::Any as sqlx::Database>::Arguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    // Only fixed fragments are formatted into the text; every value is bound.
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for arg in args {
        query = match arg {
            Arg::Text(value) => query.bind(value),
            Arg::Int(value) => query.bind(value),
        };
    }
    query
}

/// What one member-list request reads: which directory, folder and search, on which backend.
struct Scope<'a> {
    backend: Backend,
    directory: &'a str,
    folder: Option<&'a str>,
    search: &'a MemberSearch,
}

impl Scope<'_> {
    fn filter(&self, sql: &mut Sql, name_match: NameMatch) -> String {
        sql.member_filter(
            self.backend,
            self.directory,
            self.folder,
            self.search,
            name_match,
        )
    }

    /// On SQLite a name search counts first, through the trigram index: the count decides how
    /// the page reads the names. `None` when this search does not count that way.
    async fn trigram_count(&self, conn: &mut AnyConnection, cap: i64) -> AppResult<Option<i64>> {
        let MemberSearch::Name(text) = self.search else {
            return Ok(None);
        };
        if self.backend != Backend::Sqlite || !trigram_searchable(text) {
            return Ok(None);
        }
        let mut count = Sql::default();
        let fts = count.trigram_matches(text, self.directory, self.folder);
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT rowid FROM {fts} LIMIT {})",
            count.int(cap + 1)
        );
        let (n,) = query_with::<(i64,)>(sql, count.args)
            .fetch_one(conn)
            .await?;
        Ok(Some(n))
    }

    /// The page is picked from a covering index alone, then only its rows are joined.
    fn page(&self, query: &MemberQuery, name_match: NameMatch) -> Sql {
        let mut page = Sql::default();
        let filter = self.filter(&mut page, name_match);
        let inner_order = order_by(query.sort, query.descending, "");
        let outer_order = order_by(query.sort, query.descending, "m.");
        let limit = page.int(query.limit);
        let offset = page.int(query.offset);
        page.sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM \
               (SELECT account_id FROM directory_members WHERE {filter} ORDER BY {inner_order} LIMIT {limit} OFFSET {offset}) p \
             JOIN directory_members m ON m.account_id = p.account_id \
             JOIN accounts a ON a.id = m.account_id \
             JOIN folders f ON f.id = m.folder_id \
             ORDER BY {outer_order}"
        );
        page
    }

    /// Counts the matching members, stopping one past `cap`.
    async fn count(&self, pool: &sqlx::AnyPool, cap: i64) -> Result<i64, sqlx::Error> {
        let mut count = Sql::default();
        let filter = self.filter(&mut count, NameMatch::Indexed);
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM directory_members WHERE {filter} LIMIT {}) t",
            count.int(cap + 1)
        );
        let mut conn = pool.acquire().await?;
        let (n,) = query_with::<(i64,)>(sql, count.args)
            .fetch_one(&mut *conn)
            .await?;
        Ok(n)
    }
}

/// National numbers in the search box are read in the management account's region.
async fn home_region(conn: &mut AnyConnection, account_id: &str) -> AppResult<Option<Region>> {
    let home: Option<(String,)> = sqlx::query_as("SELECT region FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(conn)
        .await?;
    Ok(home.and_then(|(r,)| Region::parse(&r).ok()))
}

/// Counting stops at a cap past this page: an exact total of 100,000 members costs a pass over
/// all of them, and the pager only needs to know whether more follow.
fn count_cap(query: &MemberQuery, search: &MemberSearch) -> i64 {
    let past = if matches!(search, MemberSearch::Name(_)) {
        SEARCH_COUNT_CAP
    } else {
        LIST_COUNT_CAP
    };
    query.offset + query.limit + past
}

/// A page of the directory's members (all of them, or one folder's), searched and sorted.
#[tracing::instrument(skip(services, principal, query), fields(principal = %principal.name, sort = query.sort.as_str(), offset = query.offset, limit = query.limit))]
pub async fn list_members(
    services: &Services,
    principal: &Principal,
    query: &MemberQuery,
) -> AppResult<MemberPage> {
    let directory = directory_of(principal)?;
    query.check()?;
    let mut conn = services.db.pool.acquire().await?;
    let home = home_region(&mut conn, &principal.account_id).await?;
    let search = MemberSearch::parse(&query.search, home)?;
    let scope = Scope {
        backend: services.db.backend,
        directory,
        folder: query.folder_id.as_deref(),
        search: &search,
    };
    let cap = count_cap(query, &search);
    let trigram_count = scope.trigram_count(&mut conn, cap).await?;
    let name_match = match trigram_count {
        Some(n) if n > SPARSE_MATCHES => NameMatch::Scan,
        _ => NameMatch::Indexed,
    };
    let page = scope.page(query, name_match);
    let page_rows = async {
        let rows: Vec<MemberRow> = query_with(page.sql, page.args)
            .fetch_all(&mut *conn)
            .await?;
        Ok::<_, sqlx::Error>(rows)
    };
    let (rows, counted) = match trigram_count {
        Some(n) => (page_rows.await?, n),
        // The page and the count read different index ranges: on a second connection they run
        // side by side, and the answer waits for the slower one, not for both.
        None => tokio::try_join!(page_rows, scope.count(&services.db.pool, cap))?,
    };
    let members = rows
        .iter()
        .map(MemberRow::view)
        .collect::<AppResult<Vec<_>>>()?;
    Ok(MemberPage {
        members,
        total: counted.min(cap),
        total_exact: counted <= cap,
        offset: query.offset,
        limit: query.limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhoneNumber;

    #[test]
    fn like_patterns_escape_their_wildcards() {
        assert_eq!(contains_pattern("web"), "%web%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn page_sizes_and_offsets_are_bounded() {
        let ok = MemberQuery {
            search: String::new(),
            folder_id: None,
            sort: MemberSort::DisplayName,
            descending: false,
            offset: 0,
            limit: 100,
        };
        assert!(ok.check().is_ok());
        assert!(
            MemberQuery {
                limit: 0,
                ..ok.clone()
            }
            .check()
            .is_err()
        );
        assert!(
            MemberQuery {
                limit: 101,
                ..ok.clone()
            }
            .check()
            .is_err()
        );
        assert!(
            MemberQuery {
                offset: -1,
                ..ok.clone()
            }
            .check()
            .is_err()
        );
        assert!(
            MemberQuery {
                folder_id: Some("fd-web".into()),
                ..ok.clone()
            }
            .check()
            .is_ok()
        );
        assert!(
            MemberQuery {
                folder_id: Some("fd web'; --".into()),
                ..ok.clone()
            }
            .check()
            .is_err()
        );
        assert!(
            MemberQuery {
                folder_id: Some("f".repeat(65)),
                ..ok
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn placeholders_number_in_order() {
        let mut sql = Sql::default();
        let phones = MemberSearch::Phone(vec![
            PhoneNumber::parse("+8613900139000", None).unwrap(),
            PhoneNumber::parse("+12025550188", None).unwrap(),
        ]);
        let filter = sql.member_filter(
            Backend::Sqlite,
            "rd-acme",
            Some("fd-web"),
            &phones,
            NameMatch::Indexed,
        );
        assert_eq!(
            filter,
            "directory_id = $1 AND folder_id = $2 AND account_id IN (SELECT id FROM accounts WHERE phone IN ($3, $4))"
        );
        assert_eq!(sql.int(20), "$5");
    }

    #[test]
    fn names_go_through_the_trigram_index_when_it_can_answer() {
        let name = MemberSearch::Name("web\"x".into());
        let mut sql = Sql::default();
        let filter = sql.member_filter(Backend::Sqlite, "rd-acme", None, &name, NameMatch::Indexed);
        assert_eq!(
            filter,
            "directory_id = $1 AND account_id IN (SELECT printf('%016d', rowid) FROM member_name_trigrams \
             WHERE member_name_trigrams MATCH $2 AND directory_id = $3)"
        );
        // The phrase is quoted for FTS5, its own quotes doubled.
        assert!(matches!(&sql.args[1], Arg::Text(t) if t == "\"web\"\"x\""));

        let mut sql = Sql::default();
        let filter = sql.member_filter(Backend::Sqlite, "rd-acme", None, &name, NameMatch::Scan);
        assert_eq!(
            filter,
            "directory_id = $1 AND display_name LIKE $2 ESCAPE '\\'"
        );
        // Two characters are too short for trigrams: always a scan.
        let mut sql = Sql::default();
        let short = MemberSearch::Name("we".into());
        let filter =
            sql.member_filter(Backend::Sqlite, "rd-acme", None, &short, NameMatch::Indexed);
        assert_eq!(
            filter,
            "directory_id = $1 AND display_name LIKE $2 ESCAPE '\\'"
        );
        let mut sql = Sql::default();
        let filter = sql.member_filter(
            Backend::Postgres,
            "rd-acme",
            None,
            &name,
            NameMatch::Indexed,
        );
        assert_eq!(filter, "directory_id = $1 AND lower(display_name) LIKE $2");
    }
}
