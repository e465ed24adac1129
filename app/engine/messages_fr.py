"""French wording for the messages SpiffWorkflow and lxml produce, so no English engine text reaches a person."""

from __future__ import annotations

import re

# (pattern on SpiffWorkflow's English message, French message); groups are reused with \1.
_SPIFF = [
    (r"Non-default exclusive outgoing sequence flow without condition",
     "Flux sortant d'une passerelle exclusive sans condition et qui n'est pas le flux par défaut."),
    (r'No "calledElement" attribute for Call Activity',
     "Activité d'appel sans processus appelé (attribut calledElement)."),
    (r"The process '?([^']*)'? was not found",
     r"Le processus appelé « \1 » est introuvable dans ce document."),
    (r"Invalid Script Task\.\s*No Script Provided\.?", "Tâche de script sans script."),
    (r"No start event found", "Aucun événement de début."),
    (r"Process (\S+) is not executable\.?", r"Le processus \1 n'est pas exécutable (isExecutable)."),
    (r"Multiple outgoing flows are not supported for tasks of type",
     "Plusieurs flux sortants sur une tâche : utilisez une passerelle."),
    (r"A Service Task must have an operator", "Tâche de service sans gestionnaire (camunda:topic)."),
    (r"A SubWorkflow Must contain an End event", "Sous-processus sans événement de fin."),
    (r"Exactly one start event is required in a SubWorkflow Task; found (\d+)\.?",
     r"Un sous-processus doit avoir exactement un événement de début (trouvés : \1)."),
    (r"Duplicate process ID: (\S+)", r"Identifiant de processus en double : \1."),
    (r"Unknown Time Specification", "Minuteur sans date, durée ni cycle."),
    (r"Time Specification Error\.?.*", "Minuteur invalide."),
    (r"Could not find messageRef from message event definition: (\S+)",
     r"Message « \1 » introuvable (messageRef)."),
    (r"(Message|Signal|Error|Escalation) identifier is missing from bpmn xml",
     r"Identifiant de \1 absent du document."),
    (r"Expected an? (Message|Signal|Error|Escalation|error) node", r"Référence de \1 invalide."),
    (r"Cancel Events may only be used with transactions",
     "Un événement d'annulation n'est possible que dans une transaction."),
    (r"Cannot resolve dataInputAssociation (\S+)", r"Association de données d'entrée « \1 » introuvable."),
    (r"Cannot resolve dataOutputAssociation (\S+)", r"Association de données de sortie « \1 » introuvable."),
    (r"Conditional event definition with missing condition", "Événement conditionnel sans condition."),
    (r"A multiinstance task must specify.*", "Tâche multi-instance sans cardinalité ni collection."),
    (r"A loopMaximum or loopCondition must be specified for Loop Tasks",
     "Boucle sans maximum ni condition (loopMaximum ou loopCondition)."),
    (r"Data Store .*", "Magasin de données sans implémentation dans le moteur."),
    (r"Correlation .*", "Corrélation de message incomplète."),
    (r"Ad hoc subprocesses may not contain start or end events",
     "Un sous-processus ad hoc ne peut pas contenir d'événement de début ou de fin."),
    (r"Sequential ordering for ad hoc subprocesses not supported",
     "Ordre séquentiel des sous-processus ad hoc non pris en charge."),
    (r"There is no support implemented for this task type\.?", "Type de tâche non pris en charge par le moteur."),
    (r"When looking for a task spec, we found two items.*", "Identifiant en double (une cible de flux est ambiguë)."),
    (r"No DMN Diagram available with id \"?([^\"]*)\"?.*", r"Table de décision « \1 » introuvable (decisionRef)."),
    (r"No decisions found", "Aucune décision dans le fichier DMN."),
    (r"Multiple decision tables are not current supported\.?",
     "Une seule table de décision par décision est prise en charge."),
    (r"Unknown type in decision table: (.*)", r"Type inconnu dans la table de décision : \1."),
    (r"Malformed Output Expression.*", "Expression de sortie de table de décision mal formée."),
]
_COMPILED = [(re.compile(p, re.DOTALL), fr) for p, fr in _SPIFF]


def spiff(message: str) -> str:
    """The French wording of a SpiffWorkflow validation message (a generic sentence if unknown)."""
    text = (message or "").strip().splitlines()[0] if message else ""
    for pattern, french in _COMPILED:
        match = pattern.search(text)
        if match:
            return match.expand(french)
    return "Le moteur ne peut pas lire cet élément (message du moteur : « " + text[:200] + " »)."


_LXML = [
    (r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)",
     r"balise ouvrante « \1 » (ligne \2) fermée par « \3 »"),
    (r"Premature end of data in tag (\S+) line (\d+)", r"fin du document avant la fermeture de « \1 » (ligne \2)"),
    (r"EndTag: '</' not found", "balise de fermeture manquante"),
    (r"Extra content at the end of the document", "contenu en trop après l'élément racine"),
    (r"Start tag expected, '<' not found", "le document ne commence pas par une balise"),
    (r"Document is empty", "document vide"),
    (r"Namespace prefix (\S+) (?:on|for) (\S+) (?:is not defined|on \S+ is not defined)",
     r"préfixe d'espace de noms « \1 » non déclaré (sur « \2 »)"),
    (r"Namespace prefix (\S+) .*not defined", r"préfixe d'espace de noms « \1 » non déclaré"),
    (r"Attribute (\S+) redefined", r"attribut « \1 » présent deux fois"),
    (r"Couldn't find end of Start Tag (\S+) line (\d+)", r"balise « \1 » (ligne \2) non terminée"),
    (r"attributes construct error", "attribut mal écrit"),
    (r"AttValue: \" or ' expected", "valeur d'attribut sans guillemets"),
    (r"StartTag: invalid element name", "nom d'élément invalide"),
    (r"xmlParseEntityRef: no name", "caractère « & » non échappé (écrivez &amp;amp;)"),
    (r"Input is not proper UTF-8.*", "encodage invalide (UTF-8 attendu)"),
]
_LXML_COMPILED = [(re.compile(p), fr) for p, fr in _LXML]


def lxml(message: str) -> str:
    """French wording of an lxml syntax error, with its position."""
    text = str(message or "")
    position = re.search(r"line (\d+), column (\d+)\)?\s*$", text)
    where = f" (ligne {position.group(1)}, colonne {position.group(2)})" if position else ""
    for pattern, french in _LXML_COMPILED:
        match = pattern.search(text)
        if match:
            return match.expand(french) + where
    return "erreur de syntaxe XML" + where


_RUNTIME = [
    (r"Error evaluating expression '([^']*)'.*?name '([^']+)' is not defined",
     r"Expression « \1 » : la variable « \2 » n'existe pas dans le dossier (aucune étape ne l'a écrite)"),
    (r"name '([^']+)' is not defined", r"la variable « \1 » n'existe pas dans le dossier (aucune étape ne l'a écrite)"),
    (r"Error evaluating expression '([^']*)'[,.\s]*Did you mean one of '\[([^\]]*)\]'\?",
     r"Expression « \1 » : une variable qu'elle lit n'existe pas dans le dossier (aucune étape ne l'a écrite ; "
     r"variables proches : \2)"),
    (r"Error evaluating expression '([^']*)'[,:]?\s*(.*)", r"Erreur dans l'expression « \1 » : \2"),
    (r"(?:ZeroDivisionError:\s*)?division by zero", "division par zéro"),
    (r"\bKeyError:\s*", "clé absente : "), (r"\bTypeError:\s*", "type de valeur incorrect : "),
    (r"\bValueError:\s*", "valeur incorrecte : "), (r"\bNameError:\s*", ""),
    (r"No conditions satisfied for (\S+)", r"Aucune condition vraie à la passerelle \1 et pas de flux par défaut"),
    (r"unsupported operand type\(s\) for (\S+): '(\w+)' and '(\w+)'",
     r"opération « \1 » impossible entre une valeur \2 et une valeur \3"),
    (r"'(<|>|<=|>=)' not supported between instances of '(\w+)' and '(\w+)'",
     r"comparaison « \1 » impossible entre une valeur \2 et une valeur \3"),
    (r"Error executing Script\s*:?\s*(.*)", r"Erreur dans le script : \1"),
]
_RUNTIME_COMPILED = [(re.compile(p, re.DOTALL), fr) for p, fr in _RUNTIME]


def runtime(message: str) -> str:
    """French for an engine failure while a case runs (the incident shown to people); unknown text is kept,
    prefixed, so that nothing is lost."""
    text = str(message or "").strip()
    out = text
    for pattern, french in _RUNTIME_COMPILED:
        out = pattern.sub(lambda m, f=french: m.expand(f), out)
    out = re.sub(r"\s*Did you mean (?:one of )?'([^']+)'\?", r" (vouliez-vous dire « \1 » ?)", out)
    return out
