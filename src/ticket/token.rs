//! The Message-IDs we mint for outbound mail (MAIL-RULES C3.1, C4.2):
//! `<tkt-2026-00042.<seq>.<mac>@our-domain>`, where the MAC is an HMAC of the rest under this
//! instance's key. A reply that names such an id in In-Reply-To or References threads to its
//! ticket even if the database row of the sent message were lost, and nobody can forge one.
//! The pseudo-ref `<TKT-2026-00042@our-domain>` goes into References as well.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::TicketNumber;

/// The instance's secret for minting ids. Its `Debug` does not show it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

impl TokenKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("the operating system's random source");
        TokenKey(k)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s.trim()).ok()?;
        Some(TokenKey(bytes.try_into().ok()?))
    }

    fn mac(&self, local: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        m.update(local.as_bytes());
        hex::encode(&m.finalize().into_bytes()[..6])
    }
}

/// Mints the id of the `seq`-th message we send on a ticket (without angle brackets).
pub fn mint(key: &TokenKey, number: &TicketNumber, seq: u32, domain: &str) -> String {
    let local = format!("{}.{seq}", number.to_string().to_ascii_lowercase());
    let mac = key.mac(&local);
    format!("{local}.{mac}@{}", domain.to_ascii_lowercase())
}

/// The ticket's pseudo-ref for References.
pub fn pseudo_ref(number: &TicketNumber, domain: &str) -> String {
    format!("{number}@{}", domain.to_ascii_lowercase())
}

/// What an id in In-Reply-To/References tells about our tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// One of our minted ids, MAC verified.
    Minted(TicketNumber),
    /// A ticket's pseudo-ref.
    PseudoRef(TicketNumber),
}

impl Token {
    pub fn number(&self) -> &TicketNumber {
        match self {
            Token::Minted(n) | Token::PseudoRef(n) => n,
        }
    }
}

/// Recognizes our minted ids and pseudo-refs; anything else (or a bad MAC) is `None`.
pub fn verify(key: &TokenKey, id: &str, prefix: &str, domain: &str) -> Option<Token> {
    let (local, id_domain) = id.rsplit_once('@')?;
    if !id_domain.eq_ignore_ascii_case(domain) {
        return None;
    }
    let mut parts = local.split('.');
    let number_part = parts.next()?;
    let number: TicketNumber = number_part.parse().ok()?;
    if !number.prefix.eq_ignore_ascii_case(prefix) {
        return None;
    }
    match (parts.next(), parts.next(), parts.next()) {
        (None, None, None) => Some(Token::PseudoRef(number)),
        (Some(seq), Some(mac), None) => {
            seq.parse::<u32>().ok()?;
            let expected = key.mac(&format!("{}.{seq}", number_part.to_ascii_lowercase()));
            // Constant-time enough for a 12-hex-digit tag compared once per header.
            (expected.eq_ignore_ascii_case(mac)).then_some(Token::Minted(number))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_verify_and_forgeries_do_not() {
        let key = TokenKey::generate();
        let n = TicketNumber::new("TKT", 2026, 42);
        let id = mint(&key, &n, 3, "Example.COM");
        assert!(id.starts_with("tkt-2026-00042.3."));
        assert!(id.ends_with("@example.com"));
        assert_eq!(
            verify(&key, &id, "TKT", "example.com"),
            Some(Token::Minted(n.clone()))
        );
        let forged = id.replace("00042", "00043");
        assert_eq!(verify(&key, &forged, "TKT", "example.com"), None);
        assert_eq!(
            verify(&TokenKey::generate(), &id, "TKT", "example.com"),
            None
        );
        assert_eq!(verify(&key, &id, "TKT", "other.example"), None);
        assert_eq!(
            verify(&key, &pseudo_ref(&n, "example.com"), "TKT", "example.com"),
            Some(Token::PseudoRef(n))
        );
        assert_eq!(
            verify(&key, "CAF00@mail.gmail.com", "TKT", "example.com"),
            None
        );
        let k2 = TokenKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(k2.mac("x"), key.mac("x"));
    }
}
