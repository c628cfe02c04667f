//! Explicit requests for a person (escalation) in English, French, German and Spanish, from
//! phrase patterns over folded text (lowercase, no accents: "escalader", "Menschen" and
//! "mensch" meet), sentence by sentence.
//!
//! A sentence asks for a person when it
//! - asks to escalate ("escalate", "eskalieren", "escaladez", "escalen", "tier 2", "nächste
//!   Ebene", "niveau supérieur"), or
//! - names someone of ours and a way to reach or hand over to them, in a request: a human or a
//!   real person (enough with a request: "I want a human"), a role (manager, supervisor,
//!   technician, Mitarbeiter, conseiller, encargado…) with a contact verb and a request, or
//!   anyone with a verb of handing over ("forward this to someone who…", "passez-moi…"), or
//! - refuses the bot or the canned replies ("not a bot", "keine automatischen Antworten") in a
//!   request.
//!
//! Possessives of the customer's side ("our office manager", "mein Kollege") and negations
//! ("no need to escalate", "bitte nicht anrufen") do not count, nor compounds such as "password
//! manager", "human error" or "Personal-Tarif".

use std::sync::LazyLock;

use regex::bytes::{Regex, RegexBuilder};

use super::classifier::fold;

/// ASCII classes (`\w`, `\b`, `\s`) over the folded text: the four languages fold to ASCII,
/// and Unicode classes made these large alternations slow to build and to run.
fn re(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .expect("escalation pattern")
}

/// Verbs and nouns of escalation itself.
static ESCALATE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \bescalat(e|ed|es|ing|ion)\b | \bbump\w*\s+(this|it|me|my\s+\w+)\s+up\b
        | \b(pass|send|move|kick|push)\w*\s+(this|it|my\s+\w+)\s+(up|higher)\b
        | \b(up|higher)\s+the\s+(chain|ladder)\b | \btier[\s-]*(2|3|two|three|ii)\b
        | \blevel[\s-]*(2|3|two|three)\s+(support|team|agent) | \b(second|third|2nd|3rd)[\s-]*(level|tier)\b
        | \b(second|third|2nd|3rd)[\s-]*line\s+(support|team|agent) | \bhigher[\s-]+(level|tier)\s+(of\s+)?support\b
        | \beskal\w* | \bhoher\w*\s+(stelle|ebene)\b
        | \b(nachst|naechst|zweit|dritt|hoher|hoeher)\w*\s+(support[\s-]*)?(ebene|stufe|level|instanz)\b
        | \bsecond[\s-]*level | \b(support|service)[\s-]*(ebene|stufe)\s*(2|3|zwei|drei)\b
        | \bescalad\w* | \bremont\w*\s+(ma|mon|la|le|ce|cette|l'|mes|les|notre)\b
        | \bniveau\s+(superieur|2|deux|3|trois)\b | \b(votre|sa|ta)\s+hierarchie\b | \bsuperieur\w*\s+hierarchique
        | \bescal(ar|en|e|o|ado|ada|amiento|acion)\b | \belev(ar|en|e|o)\w*\s+(mi|el|este|esto|la|su|nuestro)\b
        | \b(siguiente|segundo|tercer)\s+nivel\b | \bnivel\s+(superior|2|3|dos|tres)\b
        | \bse\s+eleve\b
    ")
});

/// A human as such: with any request this asks for a person.
static HUMAN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \bhumans?\b | \bhuman\s+being | \b(real|actual|live|living|genuine)\s+(live\s+)?(person|people|human|someone|agent|employee|staff|engineer|technician|representative|rep)\b
        | \bflesh[\s-]+and[\s-]+blood\b | \bperson\s+from\s+your\b
        | \bmenschen?\b | \b(echte|echten|echter|reale|realen|realer|lebende|lebenden)\s+(person|menschen?|mitarbeiter\w*|ansprechpartner\w*)\b | \bfleisch\s+und\s+blut\b
        | \bhumains?\b | \betre\s+humain | \b(vraie?|vraies|veritable)\s+(personne|interlocuteur|conseiller|agent|humain|technicien)\w*
        | \bpersonne\s+(reelle|physique|en\s+chair) | \bchair\s+et\s+en\s+os\b
        | \bhuman[oa]s?\b | \bser\s+humano\b | \bpersona\s+(real|de\s+verdad|humana|fisica)\b | \balguien\s+(real|de\s+verdad)\b
        | \bcarne\s+y\s+hueso\b | \b(tecnico|agente|empleado|asesor)\s+(real|de\s+verdad)\b
    ")
});

/// Someone in a role on our side: with a contact verb in a request, or with handing over.
static ROLE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \b(manager|managers|supervisor|supervisors|superior|boss|team\s*lead(er)?|head\s+of\s+\w+|management|leadership|director|executive)\b
        | \b(staff|staffer|staff\s+member|employee|colleague|agent|representative|rep|technician|engineer|engineers|specialist|expert|advisor|adviser|account\s+manager)\b
        | \bsomeone\s+(senior|more\s+senior|in\s+charge|with\s+(real\s+|actual\s+)?(authority|access|power)|who\s+(can|could)\s+(decide|make|actually|fix|help|approve))
        | \b(some|any)(one|body)\s+(from|on|at|of|in)\s+(your|the)\b | \bone\s+of\s+your\b
        | \bwhoever\s+(runs|owns|manages|leads|is\s+in\s+charge)
        | \b(a|an|one)\s+person\b
        | \byour\s+(\w+\s+){0,2}(team|department|staff|people|engineers|experts|office)\b
        | \b(mitarbeiter\w*|supportmitarbeiter\w*|kolleg(e|en|in|innen)|techniker\w*|entwickler\w*|ingenieur\w*|spezialist\w*|berater\w*|sachbearbeiter\w*)\b
        | \b(vorgesetzt\w*|chef|chefin|fuhrungskraft|fuehrungskraft|verantwortlich\w*|zustandig\w*|zustaendig\w*|ansprechpartner\w*|leiter\w*|leiterin)\b
        | \b(team|abteilungs|support|geschafts|geschaefts|bereichs|kundendienst|service|vertriebs|gruppen|produkt)leit\w*
        | \bgeschafts(fuhrung|fuehrung)\b | \bgeschaeftsfuehrung\b | \bjemand\w*\s+(aus|von|mit|in|der|den|am)\b | \beine\w*\s+person\b
        | \bihr\w*\s+(\w+\s+)?(team|abteilung|buchhaltung|vertrieb|produktmanagement|management|sicherheitsteam|entwicklung|technik)\b
        | \b(conseill\w*|agent|agents|technicien\w*|ingenieur\w*|responsable\w*|superieur\w*|manager|chef|chefs|interlocut\w*|collaborat\w*|specialiste\w*|expert\w*|commercia(l|le|ux))\b
        | \bquelqu.?un\s+(de|du|d'|qui|chez|avec|en|capable|ayant) | \bune\s+personne\b | \bmembre\s+(de|du|d')
        | \b(la|votre|a\s+la)\s+direction\b | \bvotre\s+(\w+\s+)?(equipe|service)\b
        | \b(agente|agentes|empleado\w*|tecnico\w*|ingenier[oa]s?|supervisor\w*|superior\w*|responsable\w*|encargad[oa]s?|jef[ea]s?|gerente\w*|representante\w*|asesor\w*|ejecutiv[oa]s?|especialista\w*|comercial)\b
        | \balguien\s+(de|del|con|que|en|a\s+cargo) | \buna\s+persona\b | \bmiembro\s+(de|del)\b | \bla\s+direccion\b
        | \bsu\s+(\w+\s+)?(equipo|departamento|area|personal)\b
    ")
});

/// Anyone at all: counts only with a verb of handing over, or of direct contact in a request.
static ANYONE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \b(someone|somebody|anyone|anybody|person|people)\b | \bjemand\w*\b
        | \bquelqu.?un\b | \bpersonne\b | \balguien\b | \bpersona\b
    ")
});

/// Calling or talking to someone: with anyone at all, in a request, this asks for a person.
static DIRECT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \b(talk|speak|chat|call|phone|ring|callback)\w*\b | \bcall[\s-]+back\b
        | \b(sprechen|reden|telefonier\w*|anruf\w*|ruckruf\w*|rueckruf\w*|zuruckruf\w*|rufen)\b
        | \b(parler|discuter|echanger|rappel\w*|appel\w*|telephon\w*)\b
        | \b(habl\w*|convers\w*|charl\w*|llam\w*|telefon\w*)\b
    ")
});

/// Verbs of handing a case over to someone.
static HAND_OVER: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \b(transfer|transferred|route|forward|refer|reassign|redirect|hand|pass|passed|connect|put|send)\s+(me|this|it|my\s+\w+|the\s+(case|ticket|issue|matter|request|problem)|us|our\s+(case|ticket))\b
        | \b(hand|pass)\w*\s+(this|it|me|my\s+\w+)\s+(over|on)\b
        | \bput\s+me\s+through\b | \bloop\w*\s+in\b | \bbring\w*\s+in\b | \bget\w*\s+(\w+\s+){0,3}involved\b | \binvolve\b
        | \b(get|give|find)\s+me\s+(a|an|the|someone|somebody|your)\b | \btake\s+over\b
        | \bweiter(leiten|geben|reichen)\b | \b(leiten|geben|reichen)\s+sie\b.*\bweiter\b | \bgeben\s+sie\b.*\bab\b
        | \bubergeb\w* | \buebergeb\w* | \bverbind(en|e|et)\b | \beinschalt\w* | \bschalten\s+sie\b | \bhinzuzieh\w* | \bholen\s+sie\b | \babgeb\w* | \bu(e)?bernehm\w* | \bu(e)?bernimm\w*
        | \btransfer\w* | \btransmet\w* | \bfaire?\s+suivre\b | \bfaites\s+suivre\b | \bconfi(er|ez)\b | \bsoumet\w* | \bpass(ez|er)[\s-]+(moi|le|la|mon|ma|ce|mes)\b
        | \borient(er|ez)\b | \bredirig\w* | \b(mettre|mettez|mis|mise)\w*\s+en\s+(relation|contact)\b | \bfai(re|tes)\s+intervenir\b | \bintervention\b
        | \btransfier\w* | \btransferir\w* | \b(pas[ae](me|n|nme)?|pasar|pasas|paseme)\s+(con|a|mi|el|este)\b | \bderiv(ar|en|e)\w*
        | \bremit\w* | \btraslad\w* | \btransmit\w* | \bponer\w*\s+en\s+contacto\b | \bponga\w*\s+en\s+contacto\b | \bpongan\w*\s+en\s+contacto\b
        | \bintervenga\w* | \bcomunique(n)?me\b
    ")
});

/// Verbs of talking to, calling or being looked after by someone.
static CONTACT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \b(talk|speak|chat|discuss|deal|call|phone|ring|callback|contact|reach|meet|answer|respond|handle|handled|review|read|look\s+at)\w*\b
        | \bget\s+(back|in\s+touch)\b | \bcall[\s-]+back\b | \bhear\s+from\b | \bsort\w*\s+(this|it)\s+out\b | \bgo\s+through\b
        | \b(sprechen|reden|telefonier\w*|anruf\w*|ruf\w*|ruckruf\w*|rueckruf\w*|zuruckruf\w*|kontakt\w*|meld(en|et|e)|kummer\w*|kuemmer\w*|ansehen|anschauen|ansieht|draufschau\w*|schau\w*|prufen|pruefen|klaren|klaeren|besprechen)\b
        | \bam\s+(telefon|apparat)\b | \bpersonlich\b | \bpersoenlich\b
        | \b(parl\w*|discut\w*|echang\w*|rappel\w*|appel\w*|telephon\w*|contact\w*|joindre|occupe\w*|examin\w*|repond\w*|lise|lire|traite\w*|regarde\w*)\b
        | \bpris?e?\s+en\s+charge\b | \bprendre\s+en\s+charge\b | \bde\s+vive\s+voix\b
        | \b(habl\w*|convers\w*|charl\w*|llam\w*|contact\w*|comunic\w*|atiend\w*|atender|atienda\w*|encarg\w*|revis\w*|respond\w*|lea|leer|leyera|ocup\w*)\b
        | \bpor\s+telefono\b | \bpersonalmente\b
        | \b(complain\w*|complaint|beschwer\w*|plainte|reclamation|queja|reclamacion)\b
    ")
});

/// A request: first-person wishes, polite imperatives, questions asking for something.
static REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \b(i|we)\s*('d|'m|would|really|am|are|now|just|do|'ll|will)?\s*(really\s+|now\s+|just\s+|still\s+)?(want|wish|need|demand|insist|request|require|expect|prefer|like|ask|asking|appreciate|love)\b
        | \bplease\b | \bpls\b | \bplz\b | \bkindly\b | \bmust\b
        | \b(can|could|would|may|will)\s+(you|i|we|someone|somebody|anyone|anybody|one|a|an|your)\b
        | \b(let|get|put|give)\s+me\b | \bis\s+there\s+(any|some|a|an)\w*\b | \brequest\w*\b | \bhave\s+(someone|somebody|one|a|an|your)\b
        | \b(ich|wir)\s+(mochte|moechte|mochten|will|wollen|brauche|brauchen|verlange|bestehe|bitte|erwarte|hatte|haette|wunsche|wuensche|ware|waere)\b
        | \bbitte\b | \b(konnen|koennen|konnten|koennten|kann|konnte|koennte)\s+(sie|ihr|mich|mir|jemand|bitte)\b | \b(rufen|melden|verbinden|leiten|geben|holen|schalten)\s+sie\b | \bgern(e)?\b
        | \bje\s+(veux|voudrais|souhaite|souhaiterais|demande|exige|prefere|prefererais|refuse|tiens|compte)\b | \bj'(aimerais|exige|ai\s+besoin|attends)\b
        | \bmerci\s+de\b | \b(pouvez|pourriez|pourrait|peut|puis)[\s-]+(vous|on|il|elle|je)\b | \bsvp\b | \bs'il\s+vous\s+plait\b | \best[\s-]ce\s+qu
        | \b\w+ez[\s-]+moi\b | \bfaites\b | \bdoit\b | \bdevez\b
        | \b(quiero|quisiera|necesito|exijo|pido|solicito|prefiero|deseo|requiero|espero)\b | \bme\s+gustaria\b | \bpor\s+favor\b | \ble[s]?\s+pido\b
        | \b(puede|pueden|podria|podrian|podrias|puedes|pueda)\b | \bque\s+(me|un|una|alguien|se|su|el|la)\b | \bhay\s+(algun|alguien)\w*\b
        | \b(llam|contact|comuniqu|pas|atiend|transfier|deriv|pong)(enme|eme|ame|anme)\b
    ")
});

/// Refusing the bot, the automatic replies, the templates.
static NOT_A_BOT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \bnot\s+(a|an|another|the|with\s+a|to\s+a|some)?\s*(bot|robot|chatbot|machine|ai|autoresponder|auto[\s-]?reply|template|script|faq|form)\b
        | \bno\s+more\s+(\w+\s+)?(bot|automated|automatic|canned|template|copy[\s-]paste)\w*
        | \binstead\s+of\s+(a|the|your)?\s*(bot|chatbot|faq|form|help\s+articles?)\b | \b(stop|enough)\s+(with\s+)?(the\s+)?(canned|automated|automatic|bot)\b
        | \bkein\w*\s+(weiter\w*\s+)?(bot|chatbot|roboter|ki|automat\w*|textbaust\w*|standardantwort\w*|vorlage\w*)\b
        | \bnicht\s+(mit\s+)?(einem|dem|der|einer)?\s*(bot|chatbot|roboter|ki|maschine|sprachmodell|automaten|assistenten)\b | \bstatt\s+(dem|des|einem)?\s*(bot|chatbot|assistenten)\b
        | \bpas\s+(a\s+|avec\s+)?(un|une|le|la|au|des)?\s*(bot|robot|machine|chatbot|ia|automate|formulaire)\b | \bplus\s+(parler\s+)?a\s+une\s+machine\b
        | \b(plus|assez)\s+de\s+(reponses?|messages?)\s+(automatiques?|types?|toutes\s+faites)\b | \bplutot\s+que\s+(le|un|par\s+le)\s+(chat|bot|robot|formulaire)\b
        | \bno\s+(con\s+)?(un|el|una|la|otro|otra)?\s*(bot|robot|maquina|chatbot|ia|contestador|asistente)\b
        | \b(basta|no\s+quiero\s+mas|ya\s+no\s+quiero|ni\s+una)\s+(de\s+)?(mas\s+)?(respuestas|mensajes)\b | \ben\s+vez\s+de(l)?\s+(bot|chat|asistente)\b
    ")
});

/// Compounds and phrases where a human word means no person of ours.
static NOT_A_PERSON: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        \bhuman[\s-]+(error|errors|resources|readable|rights|factor|mistake)\b
        | \b(password|task|file|download|package|office|project|device|key|credential|window|session|display|boot|network|account|product|property|community|social\s+media)\s+managers?\b
        | \b(user|mail|email|build|sync|update|monitoring|backup)\s+agents?\b | \bmenschlich\w*\s+(versagen|fehler)\b | \berreur\s+humaine\b | \berror\s+humano\b
        | \bpersonal[\s-]+(tarif|plan|account|konto|abo)\b | \bsupport\s+agent\s+app\b
    ")
});

/// Words of the customer's own side before a role: "our manager", "mein Kollege".
const OURS: &[&str] = &[
    "our", "my", "his", "her", "their", "unser", "unsere", "unserem", "unseren", "unserer", "mein",
    "meine", "meinem", "meinen", "meiner", "notre", "nos", "mon", "ma", "mes", "nuestro",
    "nuestra", "nuestros", "nuestras", "mi", "mis",
];

/// Negations just before a verb: "no need to escalate", "bitte nicht anrufen".
const NEGATIONS: &[&str] = &[
    "not", "don't", "dont", "never", "no", "without", "nicht", "kein", "keine", "nie", "ohne",
    "ne", "n'", "pas", "jamais", "sans", "nunca", "sin", "ni",
];

fn preceded_by(sentence: &str, at: usize, words: &[&str], within: usize) -> bool {
    sentence[..at]
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .rev()
        .take(within)
        .any(|w| words.contains(&w) || w.ends_with("n't"))
}

/// Matches of `pattern` that are not inside a phrase of [`NOT_A_PERSON`] and not owned by the
/// customer's side.
fn ours(pattern: &Regex, sentence: &str, excluded: &[(usize, usize)]) -> bool {
    pattern.find_iter(sentence.as_bytes()).any(|m| {
        !excluded.iter().any(|&(s, e)| m.start() < e && s < m.end())
            && !preceded_by(sentence, m.start(), OURS, 2)
    })
}

fn affirmed(pattern: &Regex, sentence: &str) -> bool {
    pattern
        .find_iter(sentence.as_bytes())
        .any(|m| !preceded_by(sentence, m.start(), NEGATIONS, 3))
}

/// The sentence in which the text asks for a person, if it does.
pub fn explicit_request(text: &str) -> Option<String> {
    let folded = fold(text);
    let sentences = folded
        .split(['.', '!', '?', ';', ':', '\n', '—', '–', '(', ')'])
        .map(str::trim)
        .filter(|s| !s.is_empty());
    for s in sentences {
        if asks_for_a_person(s) {
            return Some(s.to_owned());
        }
    }
    None
}

fn asks_for_a_person(s: &str) -> bool {
    if affirmed(&ESCALATE, s) {
        return true;
    }
    let excluded: Vec<(usize, usize)> = NOT_A_PERSON
        .find_iter(s.as_bytes())
        .map(|m| (m.start(), m.end()))
        .collect();
    let request = REQUEST.is_match(s.as_bytes());
    let human = ours(&HUMAN, s, &excluded);
    let role = human || ours(&ROLE, s, &excluded);
    let anyone = role || ours(&ANYONE, s, &excluded);
    let hand_over = affirmed(&HAND_OVER, s);
    let contact = affirmed(&CONTACT, s);
    (human && (request || contact || hand_over))
        || (role && (hand_over || (contact && request)))
        || (anyone && hand_over && request)
        || (anyone && request && affirmed(&DIRECT, s))
        || (NOT_A_BOT.is_match(s.as_bytes()) && (request || anyone))
}

#[cfg(test)]
mod tests {
    use super::explicit_request;

    #[test]
    fn asks_for_a_person_in_four_languages() {
        for text in [
            "I want to talk to a real person, not a bot.",
            "Please escalate this ticket.",
            "Could you put me through to your supervisor?",
            "Forward this to someone who can actually fix it.",
            "Merci d'escalader ma demande.",
            "je souhaite un support humain",
            "Passez-moi un responsable, s'il vous plaît.",
            "Bitte an einen Mitarbeiter weiterleiten.",
            "Ich möchte mit einem Menschen sprechen.",
            "Bitte eskalieren Sie das.",
            "Quiero hablar con una persona.",
            "Necesito un agente humano.",
            "Por favor, pásenme con su supervisor.",
        ] {
            assert!(explicit_request(text).is_some(), "missed: {text}");
        }
    }

    #[test]
    fn ordinary_mail_that_mentions_people_is_no_request() {
        for text in [
            "The sync failed because of a human error on our side.",
            "Our office manager cannot log in since Monday.",
            "My password manager no longer fills in the login form.",
            "How do I give my colleague access to the Sales folder?",
            "No need to escalate, it works now. Thanks!",
            "Wie kündige ich den Personal-Tarif?",
            "Unser neuer Mitarbeiter sieht den Ordner nicht.",
            "Ich habe aus menschlichem Versagen einen Ordner gelöscht.",
            "Notre responsable informatique n'arrive pas à se connecter.",
            "Mi jefe no puede abrir la carpeta compartida.",
            "The app crashes when I open the Sharing dialog.",
        ] {
            assert_eq!(explicit_request(text), None, "flagged: {text}");
        }
    }

    #[test]
    fn returns_the_sentence_that_asks() {
        let s = explicit_request("The app crashes. Please let me talk to a human! Thanks.");
        assert_eq!(s.as_deref(), Some("please let me talk to a human"));
    }
}
