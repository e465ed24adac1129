/* French for bpmn-js (palette, context pad, popup menus) and its properties panel: a `translate` service.
 * Unknown strings stay in English (the panel has several hundred help texts); the labels a process owner
 * reads every day are all here. */
(function () {
  "use strict";
  var FR = {
    // palette and context pad
    "Activate hand tool": "Outil main", "Activate lasso tool": "Outil lasso",
    "Activate create/remove space tool": "Créer ou supprimer de l'espace", "Activate global connect tool": "Outil de connexion",
    "Create start event": "Créer un événement de début", "Create end event": "Créer un événement de fin",
    "Create task": "Créer une tâche", "Create gateway": "Créer une passerelle", "Create intermediate/boundary event":
      "Créer un événement intermédiaire", "Create expanded sub-process": "Créer un sous-processus",
    "Create pool/participant": "Créer un bassin", "Create data object reference": "Créer un objet de données",
    "Create data store reference": "Créer un magasin de données", "Create group": "Créer un groupe",
    "Append task": "Ajouter une tâche", "Append end event": "Ajouter un événement de fin",
    "Append gateway": "Ajouter une passerelle", "Append intermediate/boundary event": "Ajouter un événement intermédiaire",
    "Append text annotation": "Ajouter une annotation", "Change element": "Changer le type", "Change type": "Changer le type",
    "Connect using sequence/message flow or association": "Relier par un flux", "Connect to other element": "Relier",
    "Delete": "Supprimer", "Remove": "Supprimer", "Add lane above": "Ajouter un couloir au-dessus",
    "Add lane below": "Ajouter un couloir en dessous", "Divide into two lanes": "Diviser en deux couloirs",
    "Divide into three lanes": "Diviser en trois couloirs", "Append {type}": "Ajouter : {type}",
    "Search in diagram": "Rechercher dans le diagramme",
    // element types (popup menu)
    "Task": "Tâche", "User task": "Tâche utilisateur", "Service task": "Tâche de service", "Script task": "Tâche de script",
    "Business rule task": "Tâche de règle métier", "Send task": "Tâche d'envoi", "Receive task": "Tâche de réception",
    "Manual task": "Tâche manuelle", "Call activity": "Activité d'appel", "Sub-process (collapsed)": "Sous-processus (réduit)",
    "Sub-process (expanded)": "Sous-processus (développé)", "Start event": "Événement de début", "End event": "Événement de fin",
    "Exclusive gateway": "Passerelle exclusive", "Parallel gateway": "Passerelle parallèle",
    "Inclusive gateway": "Passerelle inclusive", "Event-based gateway": "Passerelle événementielle",
    "Complex gateway": "Passerelle complexe", "Timer start event": "Début sur minuteur",
    "Message start event": "Début sur message", "Timer boundary event": "Minuteur attaché",
    "Message intermediate catch event": "Réception de message", "Timer intermediate catch event": "Attente (minuteur)",
    "Default flow": "Flux par défaut", "Conditional flow": "Flux conditionnel", "Sequence flow": "Flux",
    // properties panel: groups and labels
    "General": "Général", "Name": "Nom", "ID": "Identifiant", "Documentation": "Documentation",
    "Element documentation": "Documentation de l'élément", "Process ID": "Identifiant du processus",
    "Process name": "Nom du processus", "Executable": "Exécutable", "Participant Name": "Nom du bassin",
    "Version tag": "Étiquette de version", "Forms": "Formulaires", "Form": "Formulaire", "Form fields": "Champs du formulaire",
    "Form key": "Clé de formulaire", "Type": "Type", "Label": "Libellé", "Default value": "Valeur par défaut",
    "Constraints": "Contraintes", "Config": "Paramètre", "Values": "Valeurs", "Value": "Valeur", "Properties": "Propriétés",
    "Extension properties": "Propriétés d'extension", "Inputs": "Entrées", "Outputs": "Sorties",
    "User assignment": "Attribution", "Assignee": "Attribuée à", "Candidate groups": "Groupes candidats",
    "Candidate users": "Utilisateurs candidats", "Due date": "Échéance", "Follow up date": "Date de relance",
    "Priority": "Priorité", "Implementation": "Implémentation", "Implementation type": "Type d'implémentation",
    "Topic": "Sujet (gestionnaire)", "External task": "Tâche externe", "Java class": "Classe Java",
    "Expression": "Expression", "Delegate expression": "Expression de délégation", "Result variable": "Variable de résultat",
    "Condition": "Condition", "Condition Expression": "Expression de condition", "Condition expression": "Expression de condition",
    "Script": "Script", "Format": "Format", "Script type": "Type de script", "Inline script": "Script en ligne",
    "Timer": "Minuteur", "Date": "Date", "Duration": "Durée", "Cycle": "Cycle", "Message": "Message", "Signal": "Signal",
    "Error": "Erreur", "Escalation": "Escalade", "Global message reference": "Message", "Called element": "Processus appelé",
    "Decision reference": "Décision (decisionRef)", "DMN decision": "Décision DMN", "Map decision result": "Résultat de la décision",
    "Execution listeners": "Écouteurs d'exécution", "Task listeners": "Écouteurs de tâche",
    "Asynchronous continuations": "Continuations asynchrones", "Asynchronous before": "Asynchrone avant",
    "Asynchronous after": "Asynchrone après", "Exclusive": "Exclusive", "Job execution": "Exécution des tâches",
    "Retry time cycle": "Cycle de nouvelle tentative", "Multi-instance": "Multi-instance", "Collection": "Collection",
    "Element variable": "Variable de l'élément", "Loop cardinality": "Nombre d'itérations",
    "Completion condition": "Condition de fin", "Candidate starter": "Qui peut démarrer",
    "Candidate starter groups": "Groupes autorisés à démarrer", "Candidate starter users": "Utilisateurs autorisés à démarrer",
    "History cleanup": "Purge de l'historique", "Time to live": "Durée de conservation", "Tasklist": "Liste de tâches",
    "Startable": "Démarrable", "Variable name": "Nom de variable", "Key": "Clé", "Create": "Créer",
    "Create new list item": "Ajouter un élément", "Delete item": "Supprimer l'élément", "Toggle section": "Déplier ou replier",
    "Toggle list item": "Déplier ou replier", "<none>": "<aucun>", "<empty>": "<vide>", "boolean": "booléen",
    "string": "texte", "long": "entier", "date": "date", "enum": "liste de choix", "<custom type>": "<type personnalisé>",
    "Custom type": "Type personnalisé", "Select an element to edit its properties.": "Sélectionnez un élément pour modifier ses propriétés.",
    "Multiple elements are selected. Select a single element to edit its properties.":
      "Plusieurs éléments sont sélectionnés : sélectionnez-en un seul pour modifier ses propriétés.",
    "ID must be unique.": "L'identifiant doit être unique.", "ID must not be empty.": "L'identifiant est obligatoire.",
    "ID must not contain spaces.": "L'identifiant ne doit pas contenir d'espace.",
    "ID must be a valid QName.": "L'identifiant doit être un nom XML valide.",
    "Specify more than one group as a comma separated list.": "Plusieurs groupes : séparez-les par des virgules.",
    "Specify more than one user as a comma separated list.": "Plusieurs utilisateurs : séparez-les par des virgules.",
    "Start typing \"${}\" to create an expression.": "Tapez « ${} » pour écrire une expression.",
    "Process documentation": "Documentation du processus", "User task documentation": "Documentation de la tâche",
    "Generated Task Forms": "Formulaires générés", "Embedded or External Task Forms": "Formulaires intégrés ou externes"
  };

  function translate(template, replacements) {
    var text = Object.prototype.hasOwnProperty.call(FR, template) ? FR[template] : template;
    return text.replace(/{([^}]+)}/g, function (_, key) {
      var value = (replacements || {})[key];
      return value === undefined ? "{" + key + "}" : (Object.prototype.hasOwnProperty.call(FR, value) ? FR[value] : value);
    });
  }

  window.FrenchTranslateModule = { translate: ["value", translate] };
  window.frenchTranslations = FR;
})();
