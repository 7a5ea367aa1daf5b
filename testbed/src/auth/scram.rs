//! The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), free of BSON and networking:
//! credentials as a server stores them, and a two-step conversation that checks the client
//! proof and produces the server signature.
//!
//! SASLprep (RFC 4013) of the password is the identity for printable ASCII, the only passwords
//! [`StoredCredential::new`] accepts; anything else is refused up front rather than normalised
//! differently from the clients.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Iterations of PBKDF2, as mongod's default `scramSHA256IterationCount`.
pub const ITERATIONS: u32 = 15_000;
/// Salt length mongod uses for SCRAM-SHA-256 credentials.
const SALT_LEN: usize = 28;
/// Random bytes in the server's part of the nonce.
const SERVER_NONCE_LEN: usize = 24;

type HmacSha256 = Hmac<Sha256>;

/// Why a SCRAM step failed; the wire reply is the same `AuthenticationFailed` for all of them
/// (as mongod's), the variants only make tests and logs precise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding is not supported")]
    ChannelBinding,
    #[error("nonce mismatch")]
    Nonce,
    #[error("invalid client proof")]
    Proof,
}

/// What the server keeps per user: never the password, only the salt and derived keys.
#[derive(Clone)]
pub struct StoredCredential {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl StoredCredential {
    /// Derives the credential with a fresh random salt. Refuses passwords outside printable
    /// ASCII, for which SASLprep would not be the identity.
    pub fn new(password: &str) -> Result<Self, String> {
        if password.is_empty() || !password.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err("password must be non-empty printable ASCII".into());
        }
        let mut salt = vec![0u8; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        Ok(Self::with_salt(password, salt, ITERATIONS))
    }

    fn with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> Self {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        StoredCredential {
            salt,
            iterations,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The parts of a client-first message the server needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// `n,,` or `y,,` (with an optional `a=` authzid): echoed back base64 in `c=`.
    pub gs2_header: String,
    /// `n=user,r=nonce`: part of the AuthMessage.
    pub bare: String,
    /// The user name with `=2C` / `=3D` decoded.
    pub user: String,
    pub nonce: String,
}

/// Parses `gs2-header client-first-message-bare`.
pub fn parse_client_first(message: &str) -> Result<ClientFirst, ScramError> {
    let mut parts = message.splitn(3, ',');
    let cb_flag = parts.next().ok_or(ScramError::Malformed("empty"))?;
    let authzid = parts
        .next()
        .ok_or(ScramError::Malformed("missing gs2 header"))?;
    let bare = parts
        .next()
        .ok_or(ScramError::Malformed("missing client-first-message-bare"))?;
    match cb_flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed("bad channel binding flag")),
    }
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(ScramError::Malformed("bad authzid"));
    }
    let mut attrs = bare.split(',');
    let user = attr(attrs.next(), 'n')?;
    let nonce = attr(attrs.next(), 'r')?;
    if nonce.is_empty() {
        return Err(ScramError::Malformed("empty nonce"));
    }
    Ok(ClientFirst {
        gs2_header: format!("{cb_flag},{authzid},"),
        bare: bare.to_string(),
        user: decode_saslname(user)?,
        nonce: nonce.to_string(),
    })
}

/// `key=value` with the expected key.
fn attr(part: Option<&str>, key: char) -> Result<&str, ScramError> {
    part.and_then(|p| p.strip_prefix(key))
        .and_then(|p| p.strip_prefix('='))
        .ok_or(ScramError::Malformed("unexpected attribute"))
}

/// RFC 5802 `saslname`: `,` travels as `=2C` and `=` as `=3D`.
fn decode_saslname(name: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad escape in user name")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One conversation between the server-first and server-final messages.
#[derive(Debug, Clone)]
pub struct Conversation {
    client_first: ClientFirst,
    server_first: String,
    nonce: String,
}

impl Conversation {
    /// Answers `client_first` for a known user; returns the conversation and server-first.
    pub fn start(client_first: ClientFirst, credential: &StoredCredential) -> (Self, String) {
        let mut server_nonce = [0u8; SERVER_NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut server_nonce);
        let nonce = format!("{}{}", client_first.nonce, B64.encode(server_nonce));
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        let conversation = Conversation {
            client_first,
            server_first: server_first.clone(),
            nonce,
        };
        (conversation, server_first)
    }

    /// Checks `c=...,r=...,p=...` against the stored key; on success returns server-final
    /// (`v=<ServerSignature>`).
    pub fn finish(
        &self,
        client_final: &str,
        credential: &StoredCredential,
    ) -> Result<String, ScramError> {
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("missing proof"))?;
        let mut attrs = without_proof.split(',');
        let binding = attr(attrs.next(), 'c')?;
        let nonce = attr(attrs.next(), 'r')?;
        if B64.decode(binding).ok().as_deref() != Some(self.client_first.gs2_header.as_bytes()) {
            return Err(ScramError::ChannelBinding);
        }
        if nonce != self.nonce {
            return Err(ScramError::Nonce);
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not base64"))?;
        if proof.len() != 32 {
            return Err(ScramError::Proof);
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first.bare, self.server_first, without_proof
        );
        let client_signature = hmac(&credential.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let stored_key: [u8; 32] = Sha256::digest(&client_key).into();
        // Constant-time comparison, so timing does not leak how much of the proof was right.
        let diff = stored_key
            .iter()
            .zip(credential.stored_key)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(ScramError::Proof);
        }
        let server_signature = hmac(&credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3 test vector: user "user", password "pencil", 4096 iterations.
    #[test]
    fn rfc7677_test_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let credential = StoredCredential::with_salt("pencil", salt, 4096);
        let client_first = parse_client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(client_first.user, "user");
        let conversation = Conversation {
            client_first,
            server_first:
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                    .into(),
            nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
        };
        let server_final = conversation
            .finish(
                "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                &credential,
            )
            .unwrap();
        assert_eq!(
            server_final,
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn wrong_proof_and_nonce_are_rejected() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let credential = StoredCredential::with_salt("pencil", salt, 4096);
        let first = parse_client_first("n,,n=user,r=abc").unwrap();
        let (conversation, server_first) = Conversation::start(first, &credential);
        let nonce = server_first
            .strip_prefix("r=")
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        assert!(nonce.starts_with("abc") && nonce.len() > 3);
        let zero_proof = B64.encode([0u8; 32]);
        assert_eq!(
            conversation.finish(&format!("c=biws,r={nonce},p={zero_proof}"), &credential),
            Err(ScramError::Proof)
        );
        assert_eq!(
            conversation.finish(&format!("c=biws,r=abc,p={zero_proof}"), &credential),
            Err(ScramError::Nonce)
        );
        assert_eq!(
            conversation.finish(&format!("c=eSws,r={nonce},p={zero_proof}"), &credential),
            Err(ScramError::ChannelBinding)
        );
    }

    #[test]
    fn client_first_parsing() {
        let first = parse_client_first("n,,n=a=2Cb=3Dc,r=xyz").unwrap();
        assert_eq!(first.user, "a,b=c");
        assert_eq!(first.gs2_header, "n,,");
        assert_eq!(first.bare, "n=a=2Cb=3Dc,r=xyz");
        assert_eq!(
            parse_client_first("p=tls-unique,,n=u,r=x"),
            Err(ScramError::ChannelBinding)
        );
        assert!(parse_client_first("n,,n=u=41,r=x").is_err());
        assert!(parse_client_first("n,,r=x").is_err());
        assert!(parse_client_first("n,,n=u,r=").is_err());
    }

    #[test]
    fn non_ascii_passwords_are_refused() {
        assert!(StoredCredential::new("pässword").is_err());
        assert!(StoredCredential::new("tab\there").is_err());
        assert!(StoredCredential::new("").is_err());
        assert_eq!(StoredCredential::new("s3cret!").unwrap().iterations, 15_000);
    }
}
