//! Resource Management (SPEC 5): a directory administrator reads the directory's folders and
//! members, and binds or modifies a member's mobile phone number.
//!
//! Every function starts from `Principal::administered_directory()` and every query is scoped to
//! that directory, so an id from another directory reads as "not found", never as someone's data.

use crate::domain::mask::mask_email;
use crate::domain::phone::mask_e164;
use crate::domain::{AccountId, PhoneNumber, Region, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::model::{
    AuditView, DirectoryView, FolderView, MemberDetails, MemberPage, MemberSort, MemberType,
    MemberView,
};
use crate::ssr::audit;
use crate::ssr::clock::rfc3339;
use crate::ssr::db::Backend;
use crate::ssr::outbox::Channel;
use crate::ssr::phone_binding::{AuditEntry, BindRequest, BindingFlow, Notice};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;
use crate::ssr::verification::{self, CodeRequest, Purpose, SentCode};
use crate::ssr::{Services, phone_binding};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The largest page the member list serves.
pub const MAX_PAGE_SIZE: i64 = 100;
/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 64;
/// How far past the page a plain list counts its members, and a name search its matches.
pub const LIST_COUNT_CAP: i64 = 10_000;
pub const SEARCH_COUNT_CAP: i64 = 1_000;
/// Up to this many matches a name search reads them through the trigram index and sorts them;
/// past it, it walks the ordered index, where matches are dense enough to fill a page soon.
const SPARSE_MATCHES: i64 = 500;
/// How many of a member's audit events its details page shows.
pub const MEMBER_EVENTS: i64 = 50;

/// The message of the automation API's refusal to bind a cloud account; the API maps it to its
/// own stable code (`InvalidParameter.AccountType`).
pub const NOT_A_RESOURCE_ACCOUNT: &str = "Only a resource account can be bound through the API. Bind a cloud account's number in the console.";

/// Who is asking. The console binds and modifies the number of any member; the automation API,
/// like the cloud's `BindSecureMobilePhone`, only gives a first number to a resource account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Console,
    Api,
}

impl Via {
    fn label(&self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Api => "API",
        }
    }
}

/// The directory this principal administers; anyone else is refused before any query runs.
fn directory_of(principal: &Principal) -> AppResult<&str> {
    principal
        .administered_directory()
        .ok_or(AppError::Forbidden)
}

/// What the member list's search box asked for, decided once from the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberSearch {
    All,
    /// Exactly one account id.
    AccountId(String),
    /// The E.164 forms the text could mean (with a country code, or national in the home region).
    Phone(Vec<String>),
    /// Lower-cased text that a display name contains.
    Name(String),
}

impl MemberSearch {
    /// Reads the search text: 16 digits are an account id, a phone-like text is a number (E.164,
    /// `86-…`, or national digits read in `home`), anything else is part of a name.
    pub fn parse(input: &str, home: Option<Region>) -> AppResult<MemberSearch> {
        let text = input.trim();
        if text.chars().count() > MAX_SEARCH_CHARS {
            return Err(AppError::invalid(format!(
                "The search text must be at most {MAX_SEARCH_CHARS} characters."
            )));
        }
        if text.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "The search text contains characters that are not allowed.",
            ));
        }
        if text.is_empty() {
            return Ok(MemberSearch::All);
        }
        if let Ok(id) = AccountId::parse(text) {
            return Ok(MemberSearch::AccountId(id.as_str().to_string()));
        }
        let digits = text.chars().filter(char::is_ascii_digit).count();
        let phone_like = digits >= 6
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
        if phone_like {
            let mut candidates: Vec<String> = Vec::new();
            let mut add = |parsed: AppResult<PhoneNumber>| {
                if let Ok(number) = parsed
                    && !candidates.iter().any(|c| c == number.e164())
                {
                    candidates.push(number.e164().to_string());
                }
            };
            if text.starts_with('+') || text.contains('-') {
                add(PhoneNumber::parse(text, None));
            } else {
                add(PhoneNumber::parse(&format!("+{text}"), None));
            }
            if let (Some(region), false) = (home, text.starts_with('+')) {
                add(PhoneNumber::parse(&text.replace('-', ""), Some(region)));
            }
            if !candidates.is_empty() {
                return Ok(MemberSearch::Phone(candidates));
            }
        }
        Ok(MemberSearch::Name(text.to_lowercase()))
    }
}

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
        Err(AppError::invalid("The folder ID is not valid."))
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
            return Err(AppError::invalid(format!(
                "The page size must be between 1 and {MAX_PAGE_SIZE}."
            )));
        }
        if !(0..=10_000_000).contains(&self.offset) {
            return Err(AppError::invalid(
                "The page offset must be a number from 0 to 10000000.",
            ));
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
                let list: Vec<String> = numbers.iter().map(|n| self.text(n.as_str())).collect();
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

#[derive(Debug, Clone, sqlx::FromRow)]
struct MemberRow {
    account_id: String,
    display_name: String,
    member_type: String,
    folder_id: String,
    folder_name: String,
    joined_at: i64,
    phone: Option<String>,
    status: String,
    region: String,
    email: String,
}

const MEMBER_COLUMNS: &str = "m.account_id, m.display_name, m.member_type, m.folder_id, f.name AS folder_name, \
     m.joined_at, a.phone, a.status, a.region, a.email";

impl MemberRow {
    fn member_type(&self) -> AppResult<MemberType> {
        MemberType::parse(&self.member_type).ok_or_else(|| {
            tracing::error!(member = %self.account_id, "unknown member type in the database");
            AppError::Internal
        })
    }

    fn view(&self) -> AppResult<MemberView> {
        Ok(MemberView {
            account_id: self.account_id.clone(),
            display_name: self.display_name.clone(),
            member_type: self.member_type()?,
            folder_id: self.folder_id.clone(),
            folder_name: self.folder_name.clone(),
            masked_phone: self.phone.as_deref().map(mask_e164),
            status: self.status.clone(),
            region: self.region.clone(),
            calling_code: Region::parse(&self.region)
                .map(|r| r.calling_code())
                .unwrap_or_default(),
            joined_at: rfc3339(self.joined_at),
        })
    }
}

/// One member of `directory`; an account outside it is `NotFound`, whoever it is.
async fn find_member(
    conn: &mut AnyConnection,
    directory: &str,
    account_id: &AccountId,
) -> AppResult<MemberRow> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM directory_members m \
         JOIN accounts a ON a.id = m.account_id JOIN folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 AND m.directory_id = $2"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account_id.as_str())
        .bind(directory)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(sqlx::FromRow)]
struct FolderRow {
    id: String,
    parent_id: Option<String>,
    name: String,
    depth: i64,
}

async fn folders(conn: &mut AnyConnection, directory: &str) -> AppResult<Vec<FolderRow>> {
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
    // National numbers in the search box are read in the management account's region.
    let home: Option<(String,)> = sqlx::query_as("SELECT region FROM accounts WHERE id = $1")
        .bind(&principal.account_id)
        .fetch_optional(&mut *conn)
        .await?;
    let home = home.and_then(|(r,)| Region::parse(&r).ok());
    let search = MemberSearch::parse(&query.search, home)?;
    let folder = query.folder_id.as_deref();

    let backend = services.db.backend;

    // Counting stops at a cap past this page: an exact total of 100,000 members costs a pass
    // over all of them, and the pager only needs to know whether more follow.
    let cap = query.offset
        + query.limit
        + if matches!(search, MemberSearch::Name(_)) {
            SEARCH_COUNT_CAP
        } else {
            LIST_COUNT_CAP
        };
    // On SQLite a name search counts first, through the trigram index: the count decides how
    // the page reads the names.
    let trigram_count = match &search {
        MemberSearch::Name(text) if backend == Backend::Sqlite && trigram_searchable(text) => {
            let mut count = Sql::default();
            let fts = count.trigram_matches(text, directory, folder);
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT rowid FROM {fts} LIMIT {})",
                count.int(cap + 1)
            );
            Some(
                query_with::<(i64,)>(sql, count.args)
                    .fetch_one(&mut *conn)
                    .await?
                    .0,
            )
        }
        _ => None,
    };
    let name_match = match trigram_count {
        Some(n) if n > SPARSE_MATCHES => NameMatch::Scan,
        _ => NameMatch::Indexed,
    };

    // The page is picked from a covering index alone, then only its rows are joined.
    let mut page = Sql::default();
    let filter = page.member_filter(backend, directory, folder, &search, name_match);
    let inner_order = order_by(query.sort, query.descending, "");
    let outer_order = order_by(query.sort, query.descending, "m.");
    let limit = page.int(query.limit);
    let offset = page.int(query.offset);
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM \
           (SELECT account_id FROM directory_members WHERE {filter} ORDER BY {inner_order} LIMIT {limit} OFFSET {offset}) p \
         JOIN directory_members m ON m.account_id = p.account_id \
         JOIN accounts a ON a.id = m.account_id \
         JOIN folders f ON f.id = m.folder_id \
         ORDER BY {outer_order}"
    );
    let page_rows = async {
        let rows: Vec<MemberRow> = query_with(sql, page.args).fetch_all(&mut *conn).await?;
        Ok::<_, sqlx::Error>(rows)
    };
    let (rows, counted) = match trigram_count {
        Some(n) => (page_rows.await?, n),
        None => {
            // The page and the count read different index ranges: on a second connection they
            // run side by side, and the answer waits for the slower one, not for both.
            let mut count = Sql::default();
            let filter =
                count.member_filter(backend, directory, folder, &search, NameMatch::Indexed);
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM directory_members WHERE {filter} LIMIT {}) t",
                count.int(cap + 1)
            );
            let pool = &services.db.pool;
            let counted = async {
                let mut conn = pool.acquire().await?;
                Ok::<_, sqlx::Error>(
                    query_with::<(i64,)>(sql, count.args)
                        .fetch_one(&mut *conn)
                        .await?
                        .0,
                )
            };
            tokio::try_join!(page_rows, counted)?
        }
    };
    let total_exact = counted <= cap;
    let members = rows
        .iter()
        .map(MemberRow::view)
        .collect::<AppResult<Vec<_>>>()?;
    Ok(MemberPage {
        members,
        total: counted.min(cap),
        total_exact,
        offset: query.offset,
        limit: query.limit,
    })
}

/// The member details page: the member, its masked email and its folder path.
#[tracing::instrument(skip(services, principal, account_id), fields(principal = %principal.name, member = %account_id))]
pub async fn member(
    services: &Services,
    principal: &Principal,
    account_id: &AccountId,
) -> AppResult<MemberDetails> {
    let directory = directory_of(principal)?;
    let mut conn = services.db.pool.acquire().await?;
    let row = find_member(&mut conn, directory, account_id).await?;
    let all = folders(&mut conn, directory).await?;
    let by_id: HashMap<&str, &FolderRow> = all.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut path = Vec::new();
    let mut next = Some(row.folder_id.as_str());
    while let Some(id) = next.filter(|_| path.len() < 16) {
        let Some(folder) = by_id.get(id) else { break };
        path.push(folder.name.clone());
        next = folder.parent_id.as_deref();
    }
    path.reverse();
    Ok(MemberDetails {
        member: row.view()?,
        masked_email: mask_email(&row.email),
        folder_path: path,
    })
}

/// The member's audit events, newest first, for its details page.
#[tracing::instrument(skip(services, principal, account_id), fields(principal = %principal.name, member = %account_id))]
pub async fn member_events(
    services: &Services,
    principal: &Principal,
    account_id: &AccountId,
) -> AppResult<Vec<AuditView>> {
    let directory = directory_of(principal)?;
    let mut conn = services.db.pool.acquire().await?;
    find_member(&mut conn, directory, account_id).await?;
    Ok(audit::views_for_subject(&mut conn, account_id.as_str(), None, MEMBER_EVENTS).await?)
}

/// The rules of who may get which number, shared by the code request and the confirmation.
fn check_member_and_number(via: Via, row: &MemberRow, input: &str) -> AppResult<PhoneNumber> {
    if row.status != "active" {
        return Err(AppError::invalid("The member account is closed."));
    }
    if via == Via::Api {
        if row.member_type()? != MemberType::ResourceAccount {
            return Err(AppError::invalid(NOT_A_RESOURCE_ACCOUNT));
        }
        if row.phone.is_some() {
            return Err(AppError::PhoneAlreadyBound);
        }
    }
    phone_binding::parse_new_number(&row.region, row.phone.as_deref(), input)
}

/// Sends a code to the member's new number (`SendVerificationCodeForBindSecureMobilePhone`):
/// the number must be a mobile number of the member's registration region, not its current
/// one, and have room under the per-number cap. The code counts against the member's daily cap.
#[tracing::instrument(skip(services, principal, meta, account_id, input), fields(principal = %principal.name, member = %account_id, via = via.label()))]
pub async fn send_code(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    via: Via,
    account_id: &AccountId,
    input: &str,
) -> AppResult<SentCode> {
    let directory = directory_of(principal)?;
    let row = {
        let mut conn = services.db.pool.acquire().await?;
        find_member(&mut conn, directory, account_id).await?
    };
    let number = check_member_and_number(via, &row, input)?;
    phone_binding::check_room(services, &number).await?;
    verification::send_code(
        services,
        CodeRequest {
            purpose: Purpose::MemberPhone,
            account_id: &row.account_id,
            target: number.e164(),
            channel: Channel::Sms,
            session_hash: &principal.session_hash,
            client_ip: &meta.client_ip,
        },
    )
    .await
}

/// The administrator's binding: the member is reread and its rules rechecked; the audit events
/// go on the member and on the management account; the member is told who changed its number.
struct AdminBind<'a> {
    principal: &'a Principal,
    directory: &'a str,
    via: Via,
    account_id: &'a AccountId,
    input: &'a str,
    number: &'a PhoneNumber,
}

impl BindingFlow for AdminBind<'_> {
    type Subject = MemberRow;

    async fn recheck(
        &self,
        conn: &mut AnyConnection,
        _services: &Services,
        _old: Option<&str>,
    ) -> AppResult<MemberRow> {
        let current = find_member(conn, self.directory, self.account_id).await?;
        check_member_and_number(self.via, &current, self.input)?;
        Ok(current)
    }

    fn events(&self, member: &MemberRow, old: Option<&str>, change: &str) -> Vec<AuditEntry> {
        let action = if old.is_some() {
            "ModifyMemberMobilePhone"
        } else {
            "BindMemberMobilePhone"
        };
        let via = self.via.label();
        vec![
            AuditEntry {
                action,
                subject_account_id: member.account_id.clone(),
                detail: format!(
                    "{change} (by {} of resource directory {}, via the {via}; SMS password recovery on hold)",
                    self.principal.name, self.directory
                ),
            },
            AuditEntry {
                action,
                subject_account_id: self.principal.account_id.clone(),
                detail: format!(
                    "member {} ({}): {change} (by {} of resource directory {}, via the {via})",
                    member.account_id, member.display_name, self.principal.name, self.directory
                ),
            },
        ]
    }

    fn notice(&self, member: &MemberRow, old: Option<&str>) -> Notice {
        Notice {
            email: member.email.clone(),
            text: format!(
                "The mobile phone number of your account {} ({}) was {} {} by {}, an administrator of the resource directory {}. \
                 Not you? Contact your directory administrator at once.",
                member.display_name,
                member.account_id,
                if old.is_some() {
                    "changed to"
                } else {
                    "set to"
                },
                self.number.masked(),
                self.principal.name,
                self.directory,
            ),
        }
    }
}

/// Binds or modifies the member's number (`BindSecureMobilePhone`) in the one binding
/// transaction, with an audit event on the member and on the management account.
#[tracing::instrument(skip(services, principal, meta, account_id, input, code), fields(principal = %principal.name, member = %account_id, via = via.label()))]
pub async fn bind_phone(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    via: Via,
    account_id: &AccountId,
    input: &str,
    code: &VerificationCode,
) -> AppResult<MemberView> {
    let directory = directory_of(principal)?;
    let row = {
        let mut conn = services.db.pool.acquire().await?;
        find_member(&mut conn, directory, account_id).await?
    };
    let number = check_member_and_number(via, &row, input)?;
    let flow = AdminBind {
        principal,
        directory,
        via,
        account_id,
        input,
        number: &number,
    };
    let request = BindRequest {
        principal,
        meta,
        purpose: Purpose::MemberPhone,
        account_id: &row.account_id,
        number: &number,
        code,
    };
    let current = phone_binding::bind(services, request, &flow).await?;
    let action = if current.phone.is_some() {
        "ModifyMemberMobilePhone"
    } else {
        "BindMemberMobilePhone"
    };
    tracing::info!(action, "member mobile phone number bound");
    let mut view = current.view()?;
    view.masked_phone = Some(number.masked());
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> Option<Region> {
        Region::parse("CN").ok()
    }

    #[test]
    fn empty_search_lists_everyone() {
        assert_eq!(MemberSearch::parse("  ", cn()).unwrap(), MemberSearch::All);
    }

    #[test]
    fn sixteen_digits_are_an_account_id() {
        assert_eq!(
            MemberSearch::parse(" 2000000000000006 ", cn()).unwrap(),
            MemberSearch::AccountId("2000000000000006".into())
        );
    }

    #[test]
    fn phone_forms_become_e164_candidates() {
        let e164 = MemberSearch::Phone(vec!["+8613900139000".into()]);
        assert_eq!(MemberSearch::parse("+8613900139000", cn()).unwrap(), e164);
        assert_eq!(MemberSearch::parse("86-13900139000", cn()).unwrap(), e164);
        assert_eq!(MemberSearch::parse("8613900139000", cn()).unwrap(), e164);
        // National digits are read in the home region.
        assert_eq!(MemberSearch::parse("13900139000", cn()).unwrap(), e164);
        assert_eq!(
            MemberSearch::parse("+1 202 555 0188", cn()).unwrap(),
            MemberSearch::Phone(vec!["+12025550188".into()])
        );
    }

    #[test]
    fn other_text_is_a_lower_cased_name() {
        assert_eq!(
            MemberSearch::parse("Acme-DEV", cn()).unwrap(),
            MemberSearch::Name("acme-dev".into())
        );
        // Digits that make no number are part of a name.
        assert_eq!(
            MemberSearch::parse("123", cn()).unwrap(),
            MemberSearch::Name("123".into())
        );
        assert_eq!(
            MemberSearch::parse("99999999", cn()).unwrap(),
            MemberSearch::Name("99999999".into())
        );
    }

    #[test]
    fn long_or_control_text_is_refused() {
        assert!(MemberSearch::parse(&"a".repeat(MAX_SEARCH_CHARS), cn()).is_ok());
        assert!(MemberSearch::parse(&"a".repeat(MAX_SEARCH_CHARS + 1), cn()).is_err());
        assert!(MemberSearch::parse("a\u{0}b", cn()).is_err());
    }

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
        let phones = MemberSearch::Phone(vec!["+1".into(), "+2".into()]);
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
